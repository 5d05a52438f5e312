"""Image decoding and the torch Dataset of (image, label, metadata) items."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, get_worker_info

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
    raise DataError(f"image {path}: unsupported mode {img.mode!r} (e.g. float or LAB); save it as 8-bit RGB "
                    f"(supported: {', '.join(sorted(CONVERTIBLE_MODES | SIXTEEN_BIT_MODES))})")


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


def build_transform(image_size: int, mean, std, augmentation=(), seed: int | None = None) -> A.Compose:
    """Resize to a square, the given augmentations (train only), normalise, to tensor.

    albumentations 2.x draws from the Compose's own generator (`seed`), not from the global seeds.
    """
    return A.Compose([
        A.Resize(image_size, image_size),
        *augmentation,
        A.Normalize(mean=mean, std=std),
        A.ToTensorV2(),
    ], seed=seed)


def seed_worker_transform(worker_id: int) -> None:
    """DataLoader worker_init_fn: reseed the worker's copy of the transform with torch's worker seed.

    Without it every worker starts from the same Compose generator state and repeats the other
    workers' augmentations; torch's worker seed differs per worker and follows the run seed.
    """
    info = get_worker_info()
    info.dataset.transform.set_random_seed(info.seed)


class LesionImageDataset(Dataset):
    """Items {"image", "label"} plus "meta" (float vector) when metadata is given.

    `images` (e.g. a skinlight.data.cache.ImageCache) holds the decoded images aligned with
    `paths`; without it each item is decoded from its file.
    """

    def __init__(self, paths, labels, transform: A.Compose, meta: np.ndarray | None = None,
                 decode_size: int | None = None, images=None):
        self.paths, self.labels = list(paths), np.asarray(labels, dtype=np.int64)
        self.transform, self.meta, self.decode_size, self.images = transform, meta, decode_size, images

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        decoded = self.images[i] if self.images is not None else load_rgb(self.paths[i], self.decode_size)
        image = self.transform(image=decoded)["image"]
        item = {"image": image, "label": torch.tensor(self.labels[i])}
        if self.meta is not None:
            item["meta"] = torch.from_numpy(self.meta[i])
        return item
