"""Crop-to-classify (`pipeline=crop`): classification images derived from a segmenter's predicted masks.

For every image of the classification table, the segmentation checkpoint predicts the lesion mask
(at the image's own size); the mask is dilated by `dilation` pixels (Euclidean), then

- `mode=crop`: the image is cut to the dilated mask's bounding box grown to a square around its
  centre, shifted to lie inside the image. Where that square would exceed the image's shorter side,
  the crop keeps the image's full extent on that side and is zero-padded (black) to a square, so
  the lesion keeps its aspect when the classifier resizes the crop to `data.image_size`;
- `mode=mask`: the image keeps its size and every pixel outside the dilated mask is set to black.

An image whose predicted mask is empty keeps the full image (a fallback, counted in the report).
`dilation=null` is the full image for every image (no segmentation), as `pipeline=none`.

Cache: <cache_dir>/<checkpoint sha256>/<data source>/masks/<image_id>.png holds the predicted masks
(0/255), .../<mode>_k<dilation>/<image_id>.png the derived images and manifest.json which images
fell back; the data source key hashes every image's id, path, size and modification time. A second
run with the same checkpoint contents, data, dilation and mode reads the cache and predicts
nothing; another dilation or mode reuses the cached masks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from skinlight.checkpoints import load_checkpoint, read_checkpoint
from skinlight.data.layouts.images import load_rgb, read_mask
from skinlight.devices import device_of
from skinlight.errors import CheckpointError, ConfigError
from skinlight.inference import segment
from skinlight.models.segmenter import Segmenter

log = logging.getLogger(__name__)
MODES = ("crop", "mask")
MANIFEST = "manifest.json"
SAVE_EVERY = 512  # images between manifest writes (an interrupted derivation resumes from there)


def dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """The pixels within Euclidean distance `k` of the mask (exact distance transform); k=0: the mask."""
    mask = mask.astype(bool)
    if k == 0 or not mask.any():
        return mask
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= k


def crop_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1): the mask's bounding box grown to a square around its centre, inside the image;
    on a side where the square does not fit, the image's full extent."""
    ys, xs = np.nonzero(mask)
    side = max(ys.max() + 1 - ys.min(), xs.max() + 1 - xs.min())

    def span(lo: int, hi: int, size: int) -> tuple[int, int]:
        length = min(side, size)
        start = min(max((lo + hi - length) // 2, 0), size - length)
        return start, start + length

    (y0, y1), (x0, x1) = span(ys.min(), ys.max() + 1, mask.shape[0]), span(xs.min(), xs.max() + 1, mask.shape[1])
    return int(y0), int(x0), int(y1), int(x1)


def derive(image: np.ndarray, mask: np.ndarray, dilation: int, mode: str) -> np.ndarray | None:
    """The derived image of `mode` (see the module doc); None when the mask is empty (use the full image)."""
    grown = dilate(mask, dilation)
    if not grown.any():
        return None
    if mode == "mask":
        return image * grown[..., None].astype(image.dtype)
    y0, x0, y1, x1 = crop_box(grown)
    crop = image[y0:y1, x0:x1]
    h, w = crop.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(crop, ((top, side - h - top), (left, side - w - left), (0, 0)))


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def source_key(table: pd.DataFrame) -> str:
    """A hash of the images (id, absolute path, size, modification time): another data source, another key."""
    digest = hashlib.sha256()
    for image_id, path in sorted(zip(table["image_id"].astype(str), table["path"].astype(str))):
        stat = os.stat(path)
        digest.update(f"{image_id}\t{Path(path).resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _save_png(array: np.ndarray, path: Path) -> None:
    """Write atomically (a reader or a second process never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    Image.fromarray(array).save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)


def _save_json(data, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


class CropPipeline:
    """Callable on a classification table: returns it with `path` pointing at the derived images.

    `seg_ckpt` is checked and hashed at construction (start-up); the segmenter itself is loaded only
    when some mask is not cached. `report`: a JSON file that gets the settings, the cache folder and
    the number of empty-mask fallbacks per split.
    """

    def __init__(
        self,
        seg_ckpt: str | None,
        dilation: int | None = 0,
        mode: str = "crop",
        cache_dir: str = "data/crop_cache",
        batch_size: int = 16,
        device: str = "auto",
        report: str | None = None,
    ):
        if mode not in MODES:
            raise ConfigError(f"pipeline.mode={mode!r}: use {' or '.join(MODES)}")
        if dilation is not None and (not isinstance(dilation, int) or dilation < 0):
            raise ConfigError(f"pipeline.dilation={dilation!r}: a number of pixels >= 0 (or null: the full image)")
        if not seg_ckpt:
            raise ConfigError(
                "pipeline.seg_ckpt is not set: give the checkpoint of a segmentation run "
                "(e.g. pipeline.seg_ckpt=outputs/<date>/<time>/checkpoints/best.ckpt)"
            )
        try:
            task, _ = read_checkpoint(seg_ckpt)
        except CheckpointError as e:
            raise ConfigError(f"pipeline.seg_ckpt: {e}") from None
        if task != Segmenter.TASK:
            raise ConfigError(
                f"pipeline.seg_ckpt: {seg_ckpt} is a {task} checkpoint; give the checkpoint of a "
                "segmentation run (model=unet, deeplabv3plus or unet_elgohary)"
            )
        self.seg_ckpt, self.dilation, self.mode = Path(seg_ckpt), dilation, mode
        self.cache_dir, self.batch_size, self.device = Path(cache_dir), batch_size, device
        self.report = Path(report) if report else None
        self.ckpt_hash = _sha256(self.seg_ckpt)
        self._model: Segmenter | None = None

    def _segmenter(self) -> Segmenter:
        if self._model is None:
            self._model = load_checkpoint(self.seg_ckpt, task=Segmenter.TASK).to(device_of(self.device))
        return self._model

    def __call__(self, table: pd.DataFrame) -> pd.DataFrame:
        if self.dilation is None:
            log.info("pipeline: dilation=null, the full images")
            self._write_report(table, [], None)
            return table
        folder = self.cache_dir / self.ckpt_hash[:16] / source_key(table)
        derived_dir = folder / f"{self.mode}_k{self.dilation}"
        manifest_path = derived_dir / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        todo = [(str(i), Path(p)) for i, p in zip(table["image_id"], table["path"]) if str(i) not in manifest]
        if todo:
            log.info(
                "pipeline: deriving %d of %d images (%s, dilation %d px) into %s",
                len(todo),
                len(table),
                self.mode,
                self.dilation,
                derived_dir,
            )
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            images = [load_rgb(p) for _, p in chunk]
            for (image_id, _), image, mask in zip(chunk, images, self._masks(folder / "masks", chunk, images)):
                result = derive(image, mask, self.dilation, self.mode)
                if result is not None:
                    _save_png(result, derived_dir / f"{image_id}.png")
                manifest[image_id] = "derived" if result is not None else "empty mask"
            if (start // self.batch_size + 1) % max(1, SAVE_EVERY // self.batch_size) == 0:
                _save_json(manifest, manifest_path)
        if todo or not manifest_path.is_file():
            _save_json(manifest, manifest_path)
        empty = [i for i in table["image_id"].astype(str) if manifest[i] != "derived"]
        paths = [
            p if manifest[str(i)] != "derived" else derived_dir / f"{i}.png"
            for i, p in zip(table["image_id"], table["path"])
        ]
        self._write_report(table, empty, derived_dir)
        log.info(
            "pipeline: %d images from %s; %d with an empty predicted mask keep the full image",
            len(table),
            derived_dir,
            len(empty),
        )
        return table.assign(path=paths)

    def _masks(self, mask_dir: Path, chunk: list[tuple[str, Path]], images: list[np.ndarray]) -> list[np.ndarray]:
        """The chunk's masks: cached ones read back, the others predicted (in one batch) and cached."""
        cached = [mask_dir / f"{image_id}.png" for image_id, _ in chunk]
        missing = [k for k, path in enumerate(cached) if not path.is_file()]
        masks = {k: read_mask(path) for k, path in enumerate(cached) if k not in missing}
        if missing:
            predicted = segment.predict_masks(
                self._segmenter(), [images[k] for k in missing], batch_size=self.batch_size
            )
            for k, mask in zip(missing, predicted):
                _save_png(mask.astype(np.uint8) * 255, cached[k])
                masks[k] = mask
        return [masks[k] for k in range(len(chunk))]

    def _write_report(self, table: pd.DataFrame, empty: list[str], derived_dir: Path | None) -> None:
        if self.report is None:
            return
        split = table["split"] if "split" in table else pd.Series("all", index=table.index)
        fallback = table["image_id"].astype(str).isin(empty)
        _save_json(
            {
                "seg_ckpt": str(self.seg_ckpt),
                "seg_ckpt_sha256": self.ckpt_hash,
                "dilation": self.dilation,
                "mode": self.mode,
                "cache": str(derived_dir) if derived_dir else None,
                "images": len(table),
                "empty_masks": int(fallback.sum()),
                "empty_masks_per_split": {str(s): int(n) for s, n in fallback.groupby(split).sum().items()},
                "empty_mask_image_ids": empty,
            },
            self.report,
        )
