"""Reader of the ISIC 2018 Task 1 download layout (lesion segmentation):

    root/ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_xxxxxxx.jpg
    root/ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_xxxxxxx_segmentation.png   (0/255)

One row per image: image_id, lesion_id (= image_id), label 0 ("lesion"), path, mask_path and the
`split` its official folder fixes.
"""

from __future__ import annotations

import os

import pandas as pd

from skinlight.data.layouts.files import MASK_SUFFIX, existing_root, folder, images_in
from skinlight.data.layouts.images import check_images

ISIC2018_SPLITS = {"train": "Training", "val": "Validation", "test": "Test"}
ISIC2018_INPUT = "ISIC2018_Task1-2_{}_Input"
ISIC2018_TRUTH = "ISIC2018_Task1_{}_GroundTruth"


def read_isic2018(root: str | os.PathLike, splits=tuple(ISIC2018_SPLITS)) -> pd.DataFrame:
    """Images of ISIC 2018 Task 1's official folders (`splits` of train/val/test), with their masks;
    one lesion per image, one class ("lesion")."""
    root = existing_root(root)
    frames = []
    for split in splits:
        images = images_in(folder(root, ISIC2018_INPUT.format(ISIC2018_SPLITS[split])))
        truth = folder(root, ISIC2018_TRUTH.format(ISIC2018_SPLITS[split]))
        frames.append(
            pd.DataFrame(
                {
                    "image_id": [p.stem for p in images],
                    "path": images,
                    "mask_path": [truth / f"{p.stem}{MASK_SUFFIX}" for p in images],
                    "split": split,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    check_images(table["path"])
    return table.assign(lesion_id=table["image_id"], label=0)
