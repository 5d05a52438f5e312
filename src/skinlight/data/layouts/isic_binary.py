"""The benign/malignant folder layout (`data=isic_binary`) and a synthetic writer of it.

    root/train/benign/*.jpg     root/train/malignant/*.jpg
    root/test/benign/*.jpg      root/test/malignant/*.jpg

This is how the widespread ISIC-archive binary sets are shared (e.g. Kaggle's "Skin Cancer:
Malignant vs. Benign", 224 x 224 JPEGs named 1.jpg, 2.jpg, ... in every folder). File names
repeat across folders, so an image's id is its path below root ("train/benign/1.jpg"). There
are no lesion ids and no metadata. Hidden files (".DS_Store") are skipped; anything else that
is not an image stops the reader with its path.

Synthetic copy: skinlight.synthetic.isic_binary
draws each image as a new lesion with skinlight.synthetic.draw (benign: nv, bkl, df, vasc;
malignant: mel, bcc, akiec, in HAM10000's proportions within each group).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skinlight.data.layouts.files import IMAGE_SUFFIXES, show
from skinlight.data.layouts.ham10000 import BINARY_CLASSES
from skinlight.data.layouts.images import check_images
from skinlight.errors import DataError

SPLITS = ("train", "test")


def _entries(folder: Path) -> list[Path]:
    """The non-hidden entries of `folder`, sorted."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def read_isic_binary(root: str | os.PathLike, classes=BINARY_CLASSES) -> pd.DataFrame:
    """Image table: image_id (path below root), lesion_id (= image_id), label, split (train/test), path."""
    root, classes = Path(root), tuple(classes)
    layout = f"{root}/{{{','.join(SPLITS)}}}/{{{','.join(classes)}}}/*.jpg"
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root} (expected {layout})")
    rows = []
    for split in SPLITS:
        if not (root / split).is_dir():
            raise DataError(f"folder missing: {root / split} (expected {layout})")
        unexpected = [str(p) for p in _entries(root / split) if p.name not in classes]
        if unexpected:
            raise DataError(
                f"unexpected entry in {root / split}: {show(unexpected)}; only the class folders "
                f"{list(classes)} (data.classes) belong there"
            )
        for label, name in enumerate(classes):
            folder = root / split / name
            if not folder.is_dir():
                raise DataError(f"folder missing: {folder} (expected {layout})")
            files = _entries(folder)
            if not files:
                raise DataError(f"empty class folder: {folder}")
            not_images = [str(p) for p in files if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES]
            if not_images:
                raise DataError(f"not an image file ({', '.join(IMAGE_SUFFIXES)}): {show(not_images)}")
            check_images(files)
            rows += [
                {"image_id": p.relative_to(root).as_posix(), "label": label, "split": split, "path": p} for p in files
            ]
    table = pd.DataFrame(rows)
    table.insert(1, "lesion_id", table["image_id"])
    return table
