"""torch Datasets: classification items (image, label, metadata) and segmentation items (image, mask)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from skinlight.data.layouts.images import load_rgb, read_mask


class LesionImageDataset(Dataset):
    """Items {"image", "label"} plus "meta" (float vector) when metadata is given.

    `images` (e.g. a skinlight.data.cache.ImageCache) holds the decoded images aligned with
    `paths`; without it each item is decoded from its file.
    """

    def __init__(
        self,
        paths,
        labels,
        transform,
        meta: np.ndarray | None = None,
        decode_size: int | None = None,
        images=None,
    ):
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


class SegmentationDataset(Dataset):
    """Items {"image": float (3, S, S), "mask": float (1, S, S) in {0, 1}, "image_id": str, "mask_path": str} (the
    test step scores its prediction against the mask file at the image's own size).

    Image and mask go through one albumentations call, so geometric augmentations move both.
    JPEGs are decoded at a reduced scale when `decode_size` allows; the mask follows (nearest).
    """

    def __init__(self, image_ids, paths, mask_paths, transform, decode_size: int | None = None):
        self.image_ids, self.paths, self.mask_paths = list(image_ids), list(paths), list(mask_paths)
        self.transform, self.decode_size = transform, decode_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        image, mask = load_rgb(self.paths[i], self.decode_size), read_mask(self.mask_paths[i])
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        out = self.transform(image=image, mask=mask)
        return {
            "image": out["image"],
            "mask": out["mask"][None].float(),
            "image_id": self.image_ids[i],
            "mask_path": str(self.mask_paths[i]),
        }
