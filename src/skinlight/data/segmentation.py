"""Segmentation datamodules: ISIC 2018 Task 1, PH2 and the HAM10000 lesion masks.

Items are image/mask pairs (skinlight.data.datasets.SegmentationDataset). Before training every
mask must exist and have its image's size (read from the file headers); its values are checked
when it is loaded. A layout without a fixed split gets the lesion-grouped, class-stratified one
of skinlight.data.splits (test_fraction, val_fraction, num_folds, fold, split_seed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from skinlight.data.base import LesionDataModule
from skinlight.data.datasets import SegmentationDataset
from skinlight.data.layouts.files import read_csv_table
from skinlight.data.layouts.ham10000 import CLASSES as HAM10000_CLASSES
from skinlight.data.layouts.ham10000 import MASK_DIR, read_ham10000_masks
from skinlight.data.layouts.images import check_masks
from skinlight.data.layouts.isic2018 import read_isic2018
from skinlight.data.layouts.ph2 import PH2_CLASSES, read_ph2
from skinlight.data.transforms import content_box
from skinlight.errors import ConfigError


class SegmentationDataModule(LesionDataModule):
    """Images with lesion masks. Classification-only options (a sampler, the decoded-image cache, a
    pipeline of derived images) stop here with a message rather than being ignored, and so does
    data.resize=crop (predicted masks could not be mapped back onto the cut-off edges)."""

    TASK = "segmentation"

    def __init__(self, root: str, classes=("lesion",), sampler=None, cache: bool = False, pipeline=None, **kwargs):
        given = {"sampler": sampler, "data.cache": cache, "pipeline": pipeline}
        refused = [key for key, value in given.items() if value]
        if refused:
            raise ConfigError(
                f"{', '.join(refused)}: classification options, which segmentation data cannot use; "
                "leave them at sampler=none, data.cache=false, pipeline=none"
            )
        super().__init__(root, classes, **kwargs)
        content_box(self.image_size, self.image_size, self.image_size, self.resize)  # crop stops at start-up

    def model_inputs(self) -> dict:
        return {}  # the segmenter's one class is the lesion; the dataset's classes only stratify the split

    def prepare_table(self, table: pd.DataFrame) -> pd.DataFrame:
        check_masks(table)
        return table

    def make_dataset(self, rows: pd.DataFrame, transform) -> SegmentationDataset:
        return SegmentationDataset(
            rows["image_id"], rows["path"], rows["mask_path"], transform, decode_size=self.image_size
        )


class ISIC2018DataModule(SegmentationDataModule):
    """ISIC 2018 Task 1. split=official: the Training/Validation/Test folders; split=holdout: a split
    of the Training folder, grouped by `groups_csv` (image_id, lesion_id) or one group per image."""

    def __init__(self, root: str, split: str = "official", groups_csv: str | None = None, **kwargs):
        super().__init__(root, **kwargs)
        if split not in ("official", "holdout"):
            raise ConfigError(f"data.split={split!r}: use official (the three folders) or holdout (split Training)")
        self.split, self.groups_csv = split, groups_csv
        self.has_lesion_ids = bool(groups_csv)  # else each image is its own group, lesion_id empty in split.csv

    def read_table(self) -> pd.DataFrame:
        if self.split == "official":
            return read_isic2018(self.root)
        table = read_isic2018(self.root, splits=("train",)).drop(columns="split")
        if self.groups_csv:
            groups = read_csv_table(
                Path(self.groups_csv), "data.groups_csv", required=("image_id", "lesion_id"), id_columns=("image_id",)
            )
            table["lesion_id"] = (
                table["image_id"].map(groups.set_index("image_id")["lesion_id"]).fillna(table["image_id"])
            )
        return table


class PH2DataModule(SegmentationDataModule):
    """PH2 (200 cases, 768x560 BMPs, one image per lesion): split stratified by the clinical diagnosis."""

    has_lesion_ids = False

    def __init__(self, root: str, classes=PH2_CLASSES, **kwargs):
        super().__init__(root, classes=classes, **kwargs)

    def read_table(self) -> pd.DataFrame:
        return read_ph2(self.root)


class HAM10000SegmentationDataModule(SegmentationDataModule):
    """HAM10000 images with the lesion masks of Tschandl et al.: the same lesion-grouped split as
    classification (same seed, same split)."""

    def __init__(self, root: str, classes=HAM10000_CLASSES, mask_dir: str = MASK_DIR, **kwargs):
        super().__init__(root, classes=classes, **kwargs)
        self.mask_dir = mask_dir

    def read_table(self) -> pd.DataFrame:
        return read_ham10000_masks(self.root, self.classes, self.mask_dir)
