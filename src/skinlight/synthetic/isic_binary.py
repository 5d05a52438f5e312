"""A synthetic copy of the benign/malignant folder layout (data=isic_binary), drawn by skinlight.synthetic.draw.

Each image is a new lesion (benign: nv, bkl, df, vasc; malignant: mel, bcc, akiec, in HAM10000's
proportions within each group), named 1.jpg, 2.jpg, ... in its class folder, as in the Kaggle sets.

CLI: ``skinlight-synthetic --layout isic_binary --out DIR [--num-train N] [--num-test N] [...]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.layouts.ham10000 import BINARY_CLASSES, CLASSES, MALIGNANT
from skinlight.data.layouts.isic_binary import SPLITS
from skinlight.errors import DataError
from skinlight.synthetic.draw import JPEG_QUALITY, LESION_SHARE, draw_lesion_image, sample_lesion, sample_view


def generate_isic_binary(
    root: str | os.PathLike,
    num_train: int = 200,
    num_test: int = 50,
    malignant_fraction: float = 0.45,
    seed: int = 0,
    image_size: tuple[int, int] = (224, 224),
) -> pd.DataFrame:
    """Write a synthetic benign/malignant folder dataset into `root`; return one row per image.

    Each split has round(malignant_fraction * n) malignant images; every image is a new lesion
    drawn from `seed` and its index, so the same arguments give the same pixels.
    """
    root = Path(root)
    if (root / "train").exists() or (root / "test").exists():
        raise DataError(f"{root} already holds a train/ or test/ folder; choose an empty directory")
    if not 0 < malignant_fraction < 1:
        raise DataError(f"malignant_fraction must be in (0, 1), got {malignant_fraction}")
    sizes = {
        split: (n - round(malignant_fraction * n), round(malignant_fraction * n))
        for split, n in zip(SPLITS, (num_train, num_test))
    }  # (benign, malignant) images per split
    empty = [f"{split}: {sum(n)} images" for split, n in sizes.items() if min(n) < 1]
    if empty:
        raise DataError(f"{', '.join(empty)} at malignant_fraction={malignant_fraction} leave a class empty")
    groups = {"benign": [c for c in CLASSES if c not in MALIGNANT], "malignant": list(MALIGNANT)}
    rows = []
    for s, (split, counts) in enumerate(sizes.items()):
        for c, (name, count) in enumerate(zip(BINARY_CLASSES, counts)):
            folder = root / split / name
            folder.mkdir(parents=True)
            share = np.array([LESION_SHARE[dx] for dx in groups[name]])
            for i in range(count):
                rng = np.random.default_rng([seed, s, c, i])
                dx = groups[name][rng.choice(len(share), p=share / share.sum())]
                rgb, _ = draw_lesion_image(sample_lesion(dx, rng), sample_view(rng), image_size, rng)
                path = folder / f"{i + 1}.jpg"
                Image.fromarray(rgb).save(path, quality=JPEG_QUALITY)
                rows.append({"path": path, "split": split, "label": name, "dx": dx})
    return pd.DataFrame(rows)
