"""Lesion segmentation data: readers of three real layouts, the image/mask Dataset, DataModules.

    ISIC 2018 Task 1   root/ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_xxxxxxx.jpg
                       root/ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_xxxxxxx_segmentation.png
    PH2                root/PH2 Dataset images/IMDxxx/IMDxxx_Dermoscopic_Image/IMDxxx.bmp
                       root/PH2 Dataset images/IMDxxx/IMDxxx_lesion/IMDxxx_lesion.bmp
                       root/PH2_dataset.txt or root/PH2_dataset.xlsx (diagnoses)
    HAM10000 masks     root/HAM10000_metadata.csv, the images, and
                       root/HAM10000_segmentations_lesion_tschandl/ISIC_xxxxxxx_segmentation.png

A reader returns one row per image: image_id, lesion_id, label (class index), path, mask_path, and
`split` where the layout fixes it (ISIC 2018's official folders). Masks are binary: 0/255, or a
1-bit image (PH2's BMPs). Before training every mask must exist and have its image's size (read
from the file headers); its values are checked when it is loaded. Each problem is one DataError
that names the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from skinlight.data.datamodule import HAM10000DataModule
from skinlight.data.dataset import build_transform, load_rgb
from skinlight.data.ham10000 import CLASSES as HAM10000_CLASSES
from skinlight.data.ham10000 import IMAGE_SUFFIXES, _show
from skinlight.data.splits import assign_splits
from skinlight.errors import ConfigError, DataError

log = logging.getLogger(__name__)

ISIC2018_SPLITS = {"train": "Training", "val": "Validation", "test": "Test"}
ISIC2018_INPUT = "ISIC2018_Task1-2_{}_Input"
ISIC2018_TRUTH = "ISIC2018_Task1_{}_GroundTruth"
PH2_IMAGES = "PH2 Dataset images"
PH2_CLASSES = ("common_nevus", "atypical_nevus", "melanoma")
PH2_XLSX_COLUMNS = ("Common Nevus", "Atypical Nevus", "Melanoma")  # marked "X", in PH2_CLASSES order
HAM10000_MASKS = "HAM10000_segmentations_lesion_tschandl"
MASK_SUFFIX = "_segmentation.png"


# ----------------------------------------------------------------------------- masks

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
        raise DataError(f"mask {path} has values {_show(values.tolist(), 8)}; a mask holds only 0 and 255 "
                        "(or is a 1-bit image)")
    return (mask > 0).astype(np.uint8)


def check_masks(table: pd.DataFrame) -> None:
    """Every mask exists and has its image's width and height (header reads, no decoding)."""
    missing = [f"{p} (for {i})" for i, p in zip(table["path"], table["mask_path"]) if not Path(p).is_file()]
    if missing:
        raise DataError(f"{len(missing)} mask(s) missing: {_show(missing)}")
    for image, mask in zip(table["path"], table["mask_path"]):
        with Image.open(image) as a, Image.open(mask) as b:
            if a.size != b.size:
                raise DataError(f"mask {mask} is {b.size[0]}x{b.size[1]} but its image {image} is "
                                f"{a.size[0]}x{a.size[1]}")


class SegmentationDataset(Dataset):
    """Items {"image": float (3, S, S), "mask": float (1, S, S) in {0, 1}, "image_id": str}.

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
        return {"image": out["image"], "mask": out["mask"][None].float(), "image_id": self.image_ids[i]}


# ----------------------------------------------------------------------------- readers

def _folder(root: Path, name: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        listing = _show(sorted(p.name for p in root.iterdir())) if root.is_dir() else "-"
        raise DataError(f"folder not found: {folder} ({root} holds: {listing})")
    return folder


def _images_in(folder: Path) -> list[Path]:
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"no images (*.jpg, *.png) in {folder}")
    return images


def read_isic2018(root: str | os.PathLike, splits=tuple(ISIC2018_SPLITS)) -> pd.DataFrame:
    """Images of ISIC 2018 Task 1's official folders (`splits` of train/val/test), with their masks;
    one lesion per image, one class ("lesion")."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root}")
    frames = []
    for split in splits:
        images = _images_in(_folder(root, ISIC2018_INPUT.format(ISIC2018_SPLITS[split])))
        truth = _folder(root, ISIC2018_TRUTH.format(ISIC2018_SPLITS[split]))
        frames.append(pd.DataFrame({"image_id": [p.stem for p in images], "path": images,
                                    "mask_path": [truth / f"{p.stem}{MASK_SUFFIX}" for p in images],
                                    "split": split}))
    table = pd.concat(frames, ignore_index=True)
    return table.assign(lesion_id=table["image_id"], label=0)


def _read_ph2_txt(path: Path) -> dict[str, int]:
    """PH2_dataset.txt: `|| IMDxxx || histology || clinical diagnosis (0/1/2) || ...` rows."""
    diagnoses = {}
    for line_no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        fields = [f.strip() for f in line.split("||")]
        if len(fields) < 4 or not fields[1].startswith("IMD"):
            continue
        if fields[3] not in ("0", "1", "2"):
            raise DataError(f"{path} line {line_no}: clinical diagnosis {fields[3]!r} of {fields[1]} is not 0, 1 or 2")
        diagnoses[fields[1]] = int(fields[3])
    return diagnoses


def _read_ph2_xlsx(path: Path) -> dict[str, int]:
    """PH2_dataset.xlsx: a header row with "Image Name" (row 13), one "X" among the three diagnoses."""
    from openpyxl import load_workbook

    rows = load_workbook(path, read_only=True, data_only=True).active.iter_rows(values_only=True)
    for header in rows:
        if header and header[0] == "Image Name":
            break
    else:
        raise DataError(f"{path}: no header row starting with 'Image Name'")
    missing = [c for c in PH2_XLSX_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {_show(missing)} in the 'Image Name' row")
    columns = [header.index(c) for c in PH2_XLSX_COLUMNS]
    diagnoses = {}
    for row in rows:
        if row and isinstance(row[0], str) and row[0].startswith("IMD"):
            marked = [k for k, c in enumerate(columns) if str(row[c] or "").strip().upper() == "X"]
            if len(marked) != 1:
                raise DataError(f"{path}: {row[0]} must have one 'X' among {PH2_XLSX_COLUMNS}, found {len(marked)}")
            diagnoses[row[0]] = marked[0]
    return diagnoses


def read_ph2(root: str | os.PathLike) -> pd.DataFrame:
    """PH2 cases found on disk, labelled from PH2_dataset.txt (or .xlsx); each case is its own lesion."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data.root does not exist or is not a folder: {root}")
    table_file = next((root / f"PH2_dataset.{ext}" for ext in ("txt", "xlsx") if (root / f"PH2_dataset.{ext}").is_file()),
                      None)
    if table_file is None:
        raise DataError(f"neither {root / 'PH2_dataset.txt'} nor {root / 'PH2_dataset.xlsx'} found (the diagnoses)")
    diagnoses = _read_ph2_txt(table_file) if table_file.suffix == ".txt" else _read_ph2_xlsx(table_file)
    cases = sorted(p.name for p in _folder(root, PH2_IMAGES).iterdir() if p.is_dir())
    if not cases:
        raise DataError(f"no case folders (IMDxxx) in {root / PH2_IMAGES}")
    undiagnosed = [c for c in cases if c not in diagnoses]
    if undiagnosed:
        raise DataError(f"{table_file} has no diagnosis for case folder(s) {_show(undiagnosed)}")
    if len(cases) < len(diagnoses):
        log.info("PH2: %d of the %d cases in %s are on disk", len(cases), len(diagnoses), table_file.name)
    images = root / PH2_IMAGES
    table = pd.DataFrame({
        "image_id": cases, "lesion_id": cases, "label": [diagnoses[c] for c in cases],
        "path": [images / c / f"{c}_Dermoscopic_Image" / f"{c}.bmp" for c in cases],
        "mask_path": [images / c / f"{c}_lesion" / f"{c}_lesion.bmp" for c in cases]})
    absent = [str(p) for p in table["path"] if not p.is_file()]
    if absent:
        raise DataError(f"{len(absent)} dermoscopic image(s) missing: {_show(absent)}")
    return table


# ----------------------------------------------------------------------------- data modules

class SegmentationDataModule(HAM10000DataModule):
    """Images with lesion masks: the HAM10000 module's split, split.csv and loaders, mask items.

    Subclasses give `read_table()` (one row per image, with `mask_path`). A layout without a
    fixed split gets the lesion-grouped, class-stratified one of `skinlight.data.splits`
    (test_fraction, val_fraction, num_folds, fold, split_seed).
    """

    def __init__(self, root: str, classes=("lesion",), **kwargs):
        super().__init__(root, classes=classes, use_metadata=False, **kwargs)

    def setup(self, stage: str | None = None) -> None:
        if self.table is not None:
            return
        table = self.read_table()
        check_masks(table)
        if "split" in table:
            table = table.assign(fold=pd.NA)
        else:
            table = assign_splits(table, self.classes, **self.split_args)
        self.table = table
        for split in ("train", "val", "test"):
            rows = table[table["split"] == split]
            # seeded from the run seed (seed_everything); each loader worker reseeds its copy
            transform = build_transform(self.image_size, self.mean, self.std,
                                        self.augmentation if split == "train" else (), seed=torch.initial_seed())
            self.datasets[split] = SegmentationDataset(rows["image_id"], rows["path"], rows["mask_path"], transform,
                                                       decode_size=self.image_size)
        log.info("split %s", self.describe())


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
            if not Path(self.groups_csv).is_file():
                raise DataError(f"data.groups_csv not found: {self.groups_csv}")
            groups = pd.read_csv(self.groups_csv, dtype=str)
            if not {"image_id", "lesion_id"} <= set(groups.columns):
                raise DataError(f"{self.groups_csv}: needs columns image_id and lesion_id, found {_show(groups.columns)}")
            table["lesion_id"] = table["image_id"].map(groups.set_index("image_id")["lesion_id"]).fillna(table["image_id"])
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

    def __init__(self, root: str, classes=HAM10000_CLASSES, mask_dir: str = HAM10000_MASKS, **kwargs):
        super().__init__(root, classes=classes, **kwargs)
        self.mask_dir = mask_dir

    def read_table(self) -> pd.DataFrame:
        table = super().read_table()
        folder = _folder(self.root, self.mask_dir)
        table["mask_path"] = [folder / f"{i}{MASK_SUFFIX}" for i in table["image_id"]]
        return table

