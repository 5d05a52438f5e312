"""Image decoding and the torch Dataset of (image, label, metadata) items."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, get_worker_info

from skinlight.errors import DataError


def load_rgb(path: Path, min_size: int | None = None) -> np.ndarray:
    """Decode an image as RGB uint8 (H, W, 3).

    With `min_size`, JPEGs are decoded at the smallest DCT scale that keeps both sides at least
    `min_size` (PIL draft mode): several times faster for 600x450 images read at 224 px or less.
    """
    try:
        with Image.open(path) as img:
            if min_size and img.format == "JPEG":
                scale = min(img.width, img.height) / min_size
                img.draft("RGB", (max(1, round(img.width / scale)), max(1, round(img.height / scale))))
            return np.asarray(img.convert("RGB"))
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
    """Items {"image", "label"} plus "meta" (float vector) when metadata is given."""

    def __init__(self, paths, labels, transform: A.Compose, meta: np.ndarray | None = None,
                 decode_size: int | None = None):
        self.paths, self.labels = list(paths), np.asarray(labels, dtype=np.int64)
        self.transform, self.meta, self.decode_size = transform, meta, decode_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        image = self.transform(image=load_rgb(self.paths[i], self.decode_size))["image"]
        item = {"image": image, "label": torch.tensor(self.labels[i])}
        if self.meta is not None:
            item["meta"] = torch.from_numpy(self.meta[i])
        return item
