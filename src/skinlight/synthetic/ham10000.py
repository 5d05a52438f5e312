"""A synthetic HAM10000 in the real download layout (data=synthetic), drawn by skinlight.synthetic.draw.

``generate_ham10000(root)`` writes::

    root/HAM10000_metadata.csv                      lesion_id,image_id,dx,dx_type,age,sex,localization
    root/HAM10000_images_part_1/ISIC_xxxxxxx.jpg    first half of the image ids (sorted), RGB JPEG q90
    root/HAM10000_images_part_2/ISIC_xxxxxxx.jpg    the rest
    root/HAM10000_segmentations_lesion_tschandl/ISIC_xxxxxxx_segmentation.png   lesion mask, 0/255
    root/synthetic.json                             generation parameters and class counts

so every reader of the real data reads it unchanged. The same arguments give a byte-identical
CSV and identical pixels whatever the number of worker processes: every random draw comes from
a ``numpy`` generator seeded by (seed, stream, index).
"""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from skinlight.errors import DataError
from skinlight.synthetic.draw import (
    CLASSES,
    JPEG_QUALITY,
    MIMICS,
    class_counts,
    draw_lesion_image,
    plan_dataset,
    sample_lesion,
    sample_view,
)

GENERATOR_VERSION = "1.0"
METADATA_FILE = "HAM10000_metadata.csv"
IMAGE_DIRS = ("HAM10000_images_part_1", "HAM10000_images_part_2")
MASK_DIR = "HAM10000_segmentations_lesion_tschandl"
COLUMNS = ("lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization")
_LESION, _IMAGE = 1, 2  # random stream ids of the lesions and the images (the plan's is draw's, 0)


def _render(task: tuple) -> None:
    """Draw and write one image and its mask (runs in a worker process)."""
    dx, style, lesion_seed, image_seed, size, image_path, mask_path = task
    lesion = sample_lesion(dx, np.random.default_rng(lesion_seed), style)
    rng = np.random.default_rng(image_seed)
    rgb, mask = draw_lesion_image(lesion, sample_view(rng), size, rng)
    Image.fromarray(rgb).save(image_path, quality=JPEG_QUALITY)
    Image.fromarray(mask).save(mask_path)


def _init_worker() -> None:
    cv2.setNumThreads(1)


def generate_ham10000(
    root, num_lesions: int = 1000, seed: int = 0, image_size: tuple[int, int] = (600, 450), workers: int = 2
) -> pd.DataFrame:
    """Write a synthetic HAM10000 (see the module docstring) into ``root``; return its metadata."""
    root = Path(root)
    if (root / METADATA_FILE).exists():
        raise DataError(
            f"{root} already holds a dataset ({METADATA_FILE}); choose an empty directory or delete it first"
        )
    size = (int(image_size[0]), int(image_size[1]))
    plan = plan_dataset(num_lesions, seed)
    for d in (*IMAGE_DIRS, MASK_DIR):
        (root / d).mkdir(parents=True, exist_ok=True)
    first_half = set(sorted(plan.image_id)[: (len(plan) + 1) // 2])
    tasks = [
        (
            r.dx,
            r.style,
            [seed, _LESION, r.lesion_index],
            [seed, _IMAGE, i],
            size,
            root / IMAGE_DIRS[r.image_id not in first_half] / f"{r.image_id}.jpg",
            root / MASK_DIR / f"{r.image_id}_segmentation.png",
        )
        for i, r in enumerate(plan.itertuples())
    ]
    if workers > 1:
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            for _ in pool.imap_unordered(_render, tasks, chunksize=8):
                pass
    else:
        for task in tasks:
            _render(task)
    meta = plan[list(COLUMNS)]
    info = {
        "generator": "skinlight.synthetic.ham10000",
        "generator_version": GENERATOR_VERSION,
        "num_lesions": num_lesions,
        "seed": seed,
        "image_size": list(size),
        "num_images": len(plan),
        "lesions_per_class": class_counts(num_lesions),
        "images_per_class": {c: int((plan.dx == c).sum()) for c in CLASSES},
        "mimics": {
            c: {"drawn_as": m, "lesions": int(plan[(plan.dx == c) & (plan["style"] == m)].lesion_id.nunique())}
            for c, (m, _) in MIMICS.items()
        },
    }
    (root / "synthetic.json").write_text(json.dumps(info, indent=2) + "\n")
    meta.to_csv(root / METADATA_FILE, index=False)  # written last: marks a complete dataset
    return meta.reset_index(drop=True)
