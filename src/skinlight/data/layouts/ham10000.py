"""Reader of the HAM10000 download layout (and of the synthetic copy written in that layout).

    root/HAM10000_metadata.csv            lesion_id, image_id, dx, dx_type, age, sex, localization
    root/HAM10000_images_part_1/*.jpg     (or any folder below root: one folder, part_1/_part_2, ...)
    root/HAM10000_images_part_2/*.jpg

The reader validates everything it can without decoding images: the CSV (files.read_csv_table:
columns, blank ids, duplicate image ids), labels, lesions with two diagnoses, images that are
missing, not images or visibly truncated (the format is read from the bytes). Each problem raises
a DataError that names the file and the rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skinlight.data.layouts.files import MASK_SUFFIX, existing_root, folder, read_csv_table, show
from skinlight.data.layouts.images import with_images
from skinlight.errors import DataError

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
MALIGNANT = ("akiec", "bcc", "mel")  # data.task=binary: these are "malignant", the other four "benign"
BINARY_CLASSES = ("benign", "malignant")  # the positive class is the second one
METADATA_CSV = "HAM10000_metadata.csv"
REQUIRED_COLUMNS = ("lesion_id", "image_id", "dx")
MASK_DIR = "HAM10000_segmentations_lesion_tschandl"  # the lesion masks of Tschandl et al. (data=ham10000_seg)


def lesion_with_two_labels(df: pd.DataFrame, label_column: str, source: Path) -> None:
    """A lesion is one diagnosis: images of one lesion_id with different labels stop here, naming the lines."""
    labels = df.groupby("lesion_id")[label_column].nunique()
    mixed = labels.index[labels > 1]
    if len(mixed):
        rows = [
            f"{lesion}: {', '.join(sorted(set(df.loc[df.lesion_id == lesion, label_column])))} on lines "
            f"{', '.join(str(i + 2) for i in df.index[df.lesion_id == lesion])}"
            for lesion in mixed
        ]
        raise DataError(
            f"{source}: a lesion has one diagnosis, but {len(mixed)} lesion_id(s) have images with "
            f"different {label_column}: {show(rows, 3)}"
        )


def read_metadata(csv_path: Path, classes=CLASSES, label_column: str = "dx") -> pd.DataFrame:
    """Read and validate the metadata CSV (text cells); `label` is the class index of `dx` in `classes`."""
    df = read_csv_table(
        csv_path, "metadata CSV", required=(*REQUIRED_COLUMNS[:2], label_column), id_columns=("image_id",)
    )
    unknown = ~df[label_column].isin(classes)
    if unknown.any():
        rows = [f"line {i + 2} ({df.at[i, 'image_id']}: {df.at[i, label_column]!r})" for i in df.index[unknown]]
        raise DataError(f"{csv_path}: unknown {label_column} label(s), expected one of {list(classes)}: {show(rows)}")
    lesion_with_two_labels(df, label_column, csv_path)
    df["label"] = df[label_column].map({c: i for i, c in enumerate(classes)}).astype(int)
    return df


def read_ham10000(
    root: str | os.PathLike, classes=CLASSES, csv_name: str = METADATA_CSV, label_column: str = "dx"
) -> pd.DataFrame:
    """The metadata table of a HAM10000-layout folder, with a `path` column for each image."""
    root = existing_root(root)
    csv_path = root / csv_name
    return with_images(read_metadata(csv_path, classes, label_column), root, csv_path)


def read_ham10000_masks(root: str | os.PathLike, classes=CLASSES, mask_dir: str = MASK_DIR) -> pd.DataFrame:
    """The HAM10000 table (read_ham10000) with a `mask_path` column: <mask_dir>/<image_id>_segmentation.png."""
    table = read_ham10000(root, classes)
    masks = folder(Path(root), mask_dir)
    return table.assign(mask_path=[masks / f"{i}{MASK_SUFFIX}" for i in table["image_id"]])


# As a source of skinlight.data.sources (data=combined): its words -> skinlight.data.taxonomy's common ones.
TABLE = METADATA_CSV
ISIC_IDS = True  # ISIC_0024306 ... ISIC_0034320 and HAM_ lesion ids, as in ISIC 2019
DIAGNOSES = {c: c for c in CLASSES}
SITES = {
    **dict.fromkeys(("abdomen", "back", "chest", "trunk"), "torso"),
    **dict.fromkeys(("ear", "face", "neck", "scalp"), "head/neck"),
    "acral": "palms/soles",
    "foot": "lower extremity",
    "lower extremity": "lower extremity",
    "hand": "upper extremity",
    "upper extremity": "upper extremity",
    "genital": "oral/genital",
    "unknown": "unknown",
}


def read(root: str | os.PathLike) -> pd.DataFrame:
    """read_ham10000 in the columns of a source (skinlight.data.sources): diagnosis, site, no patient ids."""
    table = read_ham10000(root)
    for column in ("age", "sex", "localization"):
        if column not in table:
            table[column] = pd.NA
    return table.rename(columns={"dx": "diagnosis", "localization": "site"}).assign(patient_id=pd.NA)
