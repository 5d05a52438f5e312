"""Decoding and validating image and mask files (no Lightning, no torch): what every reader and dataset uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.layouts.files import index_images, show
from skinlight.errors import DataError

# PIL modes converted to RGB: grayscale and palette are replicated, alpha is dropped, CMYK and YCbCr converted.
CONVERTIBLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr"}
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}  # 16-bit grayscale (PNG, TIFF): scaled to 8 bits


def _to_rgb(img: Image.Image, path: Path) -> np.ndarray:
    if img.mode in CONVERTIBLE_MODES:
        return np.asarray(img.convert("RGB"))
    if img.mode in SIXTEEN_BIT_MODES:
        gray = np.asarray(img).astype(np.int64)
        if gray.min() < 0 or gray.max() > 65535:
            raise DataError(f"image {path}: mode {img.mode} holds values outside 0..65535; save it as 8-bit RGB")
        return np.repeat((gray >> 8).astype(np.uint8)[..., None], 3, axis=2)
    raise DataError(
        f"image {path}: unsupported mode {img.mode!r} (e.g. float or LAB); save it as 8-bit RGB "
        f"(supported: {', '.join(sorted(CONVERTIBLE_MODES | SIXTEEN_BIT_MODES))})"
    )


def load_rgb(path: Path, min_size: int | None = None) -> np.ndarray:
    """Decode an image as RGB uint8 (H, W, 3); grayscale, RGBA, CMYK and 16-bit images are converted.

    With `min_size`, JPEGs are decoded at the smallest DCT scale that keeps both sides at least
    `min_size` (PIL draft mode): several times faster for 600x450 images read at 224 px or less.
    """
    try:
        with Image.open(path) as img:
            if min_size and img.format == "JPEG":
                scale = min(img.width, img.height) / min_size
                img.draft("RGB", (max(1, round(img.width / scale)), max(1, round(img.height / scale))))
            return _to_rgb(img, path)
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot decode image {path}: {e}") from e


SIGNATURES = {b"\xff\xd8": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"BM": "BMP"}  # the first bytes of each format
TRUNCATED = "truncated {} (cut off before its end): download or copy it again"


def _complete(fmt: str, head: bytes, tail: bytes, size: int) -> bool:
    """A JPEG ends with its end-of-image marker, a PNG with its IEND chunk (writers may pad after them: the
    last bytes are searched), a BMP is as long as its header says."""
    if fmt == "BMP":
        return int.from_bytes(head[2:6], "little") <= size
    return (b"\xff\xd9" if fmt == "JPEG" else b"IEND") in tail


def image_problem(path: Path) -> str | None:
    """Why `path` cannot be used as an image, from its first and last bytes (no decoding); None if none.

    The format is read from the bytes, not the name (a PNG saved as .jpg is read as the PNG it is). Found
    here: an empty file, a file that is no image, a JPEG, PNG or BMP cut off before its end (a broken
    download), an unsupported pixel mode (every JPEG, PNG and BMP mode converts; other formats are
    opened by PIL to read theirs).
    """
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(size - 64, 0))
        tail = f.read()
    fmt = next((name for signature, name in SIGNATURES.items() if head.startswith(signature)), None)
    if fmt:
        return None if _complete(fmt, head, tail, size) else TRUNCATED.format(fmt)
    try:
        with Image.open(path) as img:
            mode = img.mode
    except (OSError, ValueError, SyntaxError) as e:
        return f"not an image ({e})"
    if mode not in CONVERTIBLE_MODES | SIXTEEN_BIT_MODES:
        return f"unsupported mode {mode!r}: save it as 8-bit RGB"
    return None


def check_images(paths, what: str = "image") -> None:
    """Every file of `paths` passes image_problem(); else one DataError listing the files and why."""
    problems = [(p, why) for p in map(Path, paths) if (why := image_problem(p))]
    if problems:
        listed = show(f"{p} ({why})" for p, why in problems)
        raise DataError(f"{len(problems)} {what} file(s) cannot be used: {listed}")


def with_images(table: pd.DataFrame, root: Path, csv_path: Path) -> pd.DataFrame:
    """`table` (image_id, index = the CSV's rows) with the `path` of each image, found anywhere below `root`;
    an image that is missing, not an image or cut off stops, naming the CSV's lines or the files."""
    paths = index_images(root, table["image_id"])
    absent = [f"line {i + 2} ({image_id})" for i, image_id in table["image_id"].items() if image_id not in paths]
    if absent:
        raise DataError(f"{len(absent)} image(s) listed in {csv_path} not found under {root}: {show(absent)}")
    table = table.assign(path=[paths[i] for i in table["image_id"]])
    check_images(table["path"])
    return table.reset_index(drop=True)


def read_mask(path: Path) -> np.ndarray:
    """A binary mask as uint8 (H, W) in {0, 1}: 0/255 grey or RGB, or a 1-bit image."""
    try:
        with Image.open(path) as img:
            one_bit = img.mode == "1"
            mask = np.asarray(img)
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot decode mask {path}: {e}") from e
    if one_bit:
        return mask.astype(np.uint8)
    if mask.ndim == 3:
        if (mask != mask[..., :1]).any():
            raise DataError(f"mask {path} is a colour image; a mask is binary (0/255 or 1-bit)")
        mask = mask[..., 0]
    values = np.unique(mask)
    if not np.isin(values, (0, 255)).all():
        raise DataError(
            f"mask {path} has values {show(values.tolist(), 8)}; a mask holds only 0 and 255 (or is a 1-bit image)"
        )
    return (mask > 0).astype(np.uint8)


def check_masks(table: pd.DataFrame) -> None:
    """Every mask exists, is a complete image file and has its image's width and height (header reads, no
    decoding); its values are checked when it is read (read_mask)."""
    missing = [f"{p} (for {i})" for i, p in zip(table["path"], table["mask_path"]) if not Path(p).is_file()]
    if missing:
        raise DataError(f"{len(missing)} mask(s) missing: {show(missing)}")
    check_images(table["mask_path"], "mask")
    for image, mask in zip(table["path"], table["mask_path"]):
        with Image.open(image) as a, Image.open(mask) as b:
            if a.size != b.size:
                raise DataError(
                    f"mask {mask} is {b.size[0]}x{b.size[1]} but its image {image} is "
                    f"{a.size[0]}x{a.size[1]}; a mask has its image's size"
                )
