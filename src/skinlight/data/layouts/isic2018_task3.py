"""The official ISIC 2018 Task 3 validation and test sets (`data=isic2018_task3`), for evaluation.

    root/ISIC2018_Task3_Validation_Input/ISIC_xxxxxxx.jpg              193 images (+ ATTRIBUTION.txt, LICENSE.txt)
    root/ISIC2018_Task3_Validation_GroundTruth/ISIC2018_Task3_Validation_GroundTruth.csv
    root/ISIC2018_Task3_Test_Input/ISIC_xxxxxxx.jpg                    1,512 images
    root/ISIC2018_Task3_Test_GroundTruth/ISIC2018_Task3_Test_GroundTruth.csv

A ground-truth CSV is found in its folder or directly in root; images anywhere below root (the
HAM10000 Dataverse names its folder ISIC2018_Task3_Test_Images). Either set may be absent. The
challenge's CSV is one-hot: image, MEL, NV, BCC, AKIEC, BKL, DF, VASC (1.0 for the diagnosis);
the Dataverse's test CSV is in the HAM10000 form (image_id, dx, age, sex, localization, ...): both
are read. The validation set is the "val" split, the test set the "test" split; there is no
training split. Patient metadata come from the ground-truth CSV when it has age, sex and
localization, else from `metadata_csv` (image_id or image, age or age_approx, sex, localization);
an image without metadata gets a missing age and "unknown" sex and site.

Synthetic copy: skinlight.synthetic.isic2018_task3.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import check_table, existing_root, index_images, read_csv_table, show
from skinlight.data.layouts.ham10000 import CLASSES, lesion_with_two_labels
from skinlight.data.layouts.images import check_images
from skinlight.data.layouts.isic_archive import one_hot
from skinlight.errors import DataError

log = logging.getLogger(__name__)
ONE_HOT = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")  # the challenge's column order
SETS = {"Validation": "val", "Test": "test"}
META_COLUMNS = {"image": "image_id", "age_approx": "age"}  # ISIC-archive names -> HAM10000 names
FIRST_IDS = {"Validation": 34321, "Test": 34524}  # the real sets' first image numbers


def ground_truth_name(which: str) -> str:
    return f"ISIC2018_Task3_{which}_GroundTruth.csv"


def find_ground_truth(root: Path, which: str) -> Path | None:
    name = ground_truth_name(which)
    return next((p for p in (root / name.removesuffix(".csv") / name, root / name) if p.is_file()), None)


def _read_labels(csv_path: Path, classes) -> pd.DataFrame:
    """image_id, dx and whatever else the CSV holds, from the one-hot or the HAM10000 form."""
    df = read_csv_table(csv_path, "ground-truth CSV")
    if "image_id" in df.columns and "dx" in df.columns:  # the HAM10000 form
        rows = check_table(df, csv_path, "ground-truth CSV", required=("image_id", "dx"))
        if "lesion_id" in rows:
            lesion_with_two_labels(rows.dropna(subset=["lesion_id"]), "dx", csv_path)
    elif "image" in df.columns and set(ONE_HOT) <= set(df.columns):
        df = check_table(df, csv_path, "ground-truth CSV", required=("image", *ONE_HOT))
        rows = df.drop(columns=list(ONE_HOT)).rename(columns={"image": "image_id"})
        rows["dx"] = one_hot(df, ONE_HOT, csv_path, "image").str.lower()
    else:
        raise DataError(
            f"{csv_path}: expected the columns image,{','.join(ONE_HOT)} (challenge) or image_id,dx "
            f"(HAM10000 form); found {show(df.columns, 20)}"
        )
    duplicated = rows["image_id"][rows["image_id"].duplicated()]
    if len(duplicated):
        raise DataError(f"{csv_path}: image listed more than once: {show(duplicated.unique())}")
    unknown = ~rows["dx"].isin(classes)
    if unknown.any():
        raise DataError(
            f"{csv_path}: diagnoses {sorted(rows['dx'][unknown].unique())} are not among the classes "
            f"{list(classes)} (data.classes)"
        )
    return rows.reset_index(drop=True)


def _read_metadata(csv_path: Path) -> pd.DataFrame:
    """image_id, age, sex, localization of a metadata CSV (HAM10000 or ISIC-archive column names)."""
    df = read_csv_table(csv_path, "data.metadata_csv").rename(columns=META_COLUMNS)
    missing = [c for c in ("image_id", "age", "sex", "localization") if c not in df.columns]
    if missing:
        raise DataError(f"{csv_path} (data.metadata_csv): missing column(s) {missing}; found {show(df.columns, 20)}")
    df = df[["image_id", "age", "sex", "localization"]].dropna(subset=["image_id"])
    conflicting = df[df.duplicated("image_id", keep=False) & ~df.duplicated(keep=False)]["image_id"].unique()
    if len(conflicting):
        raise DataError(
            f"{csv_path} (data.metadata_csv): image_id(s) listed twice with different metadata: {show(conflicting)}"
        )
    return df.drop_duplicates("image_id")


def read_isic2018_task3(
    root: str | os.PathLike, classes=CLASSES, metadata_csv: str | None = None, allow_missing: bool = False
) -> pd.DataFrame:
    """Image table: image_id, lesion_id, dx, label, split (val/test), path, age, sex, localization.

    `allow_missing`: drop (with a warning) images listed in a ground truth but absent from disk
    (the Dataverse test set lacks one, ISIC_0035068) instead of stopping.
    """
    root, classes = existing_root(root), tuple(classes)
    found = {which: find_ground_truth(root, which) for which in SETS}
    if not any(found.values()):
        expected = " or ".join(
            f"{root}/{ground_truth_name(w).removesuffix('.csv')}/{ground_truth_name(w)}" for w in SETS
        )
        raise DataError(f"no ISIC 2018 Task 3 ground truth under {root}: expected {expected}")
    extra = _read_metadata(root / metadata_csv) if metadata_csv else None
    tables = []
    for which, csv_path in found.items():
        if csv_path is None:
            continue
        rows = _read_labels(csv_path, classes)
        if not {"age", "sex", "localization"} <= set(rows.columns):
            rows = rows.drop(columns=["age", "sex", "localization"], errors="ignore")
            rows = rows.merge(extra, on="image_id", how="left") if extra is not None else rows.assign(age=np.nan)
        rows["sex"] = rows.get("sex", pd.Series(index=rows.index, dtype=object)).fillna("unknown")
        rows["localization"] = rows.get("localization", pd.Series(index=rows.index, dtype=object)).fillna("unknown")
        rows["split"], rows["csv"] = SETS[which], csv_path
        tables.append(rows)
    table = pd.concat(tables, ignore_index=True)
    paths = index_images(root, table["image_id"])
    absent = table["image_id"].map(lambda i: i not in paths)
    if absent.any():
        listed = show(f"{i} ({c.name})" for i, c in zip(table["image_id"][absent], table["csv"][absent]))
        if not allow_missing:
            raise DataError(
                f"{absent.sum()} image(s) in the ground truth not found under {root}: {listed} "
                "(data.allow_missing=true evaluates without them)"
            )
        log.warning("%d image(s) in the ground truth not found under %s, left out: %s", absent.sum(), root, listed)
        table = table[~absent].reset_index(drop=True)
    table["path"] = [paths[i] for i in table["image_id"]]
    check_images(table["path"])
    if "lesion_id" not in table.columns:
        table["lesion_id"] = table["image_id"]
    table["lesion_id"] = table["lesion_id"].fillna(table["image_id"])
    table["label"] = table["dx"].map({c: i for i, c in enumerate(classes)}).astype(int)
    return table.drop(columns="csv")
