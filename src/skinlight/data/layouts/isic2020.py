"""Reader of the SIIM-ISIC 2020 training data (`data=isic2020`): 33,126 dermoscopic images of 2,056 patients,
584 of them melanoma, as downloaded from Kaggle (siim-isic-melanoma-classification) or the ISIC 2020 challenge.

    root/train.csv                        image_name,patient_id,sex,age_approx,anatom_site_general_challenge,
                                          diagnosis,benign_malignant,target
    root/jpeg/train/ISIC_xxxxxxx.jpg      (Kaggle; the ISIC site's zip: root/ISIC_2020_Training_JPEG/train/)

The ISIC site's ground truth, ISIC_2020_Training_GroundTruth_v2.csv (with a lesion_id column) or
ISIC_2020_Training_GroundTruth.csv, is read where train.csv is absent (in that order). Images are found
anywhere below root (DICOM and TFRecord copies are not read). `target` must be 0 or 1 and agree with
benign_malignant (benign 0, malignant 1); the class comes from `diagnosis`, where "unknown" (27,124 images:
benign, no finer diagnosis) is the common class unknown. patient_id is the CSV's, there are no lesion ids.

Verified (a search of public code and pages): train.csv's columns and their meaning (sex blank when unknown),
the jpeg/ folder, the counts above. Assumed: the diagnosis and site words below (from the challenge's data
description), the ISIC site's file and folder names. Synthetic copy: skinlight.synthetic.isic2020.
"""

from __future__ import annotations

import os

import pandas as pd

from skinlight.data.layouts.files import contract_table, existing_root, read_csv_table, require_columns, show
from skinlight.data.layouts.images import with_images
from skinlight.data.layouts.isic_archive import SITES as ARCHIVE_SITES
from skinlight.data.layouts.isic_archive import find_csv
from skinlight.errors import DataError

CSV_NAMES = ("train.csv", "ISIC_2020_Training_GroundTruth_v2.csv", "ISIC_2020_Training_GroundTruth.csv")
REQUIRED = ("image_name", "patient_id", "diagnosis", "benign_malignant", "target")
META_COLUMNS = ("sex", "age_approx", "anatom_site_general_challenge")
TARGETS = {"benign": "0", "malignant": "1"}

TABLE = CSV_NAMES[0]
ISIC_IDS = True
DIAGNOSES = {
    "unknown": "unknown",
    "nevus": "nv",
    "melanoma": "mel",
    **dict.fromkeys(("seborrheic keratosis", "lentigo nos", "lichenoid keratosis", "solar lentigo"), "bkl"),
    # Neither is one of HAM10000's seven classes, and neither is safely a nevus or a melanoma (an atypical
    # melanocytic proliferation is neither benign nor malignant for sure): both are "unknown".
    "cafe-au-lait macule": "unknown",
    "atypical melanocytic proliferation": "unknown",
}
SITES = ARCHIVE_SITES


def check_target(df, path) -> None:
    """target is 0 or 1 and says what benign_malignant says; else the lines stop here."""
    words = df["benign_malignant"].str.strip().str.lower()
    bad = df.index[~df["target"].str.strip().isin(("0", "1")) | (words.map(TARGETS) != df["target"].str.strip())]
    if len(bad):
        listed = show(
            f"line {i + 2} ({df.at[i, 'image_name']}: target {df.at[i, 'target']!r}, "
            f"benign_malignant {df.at[i, 'benign_malignant']!r})"
            for i in bad
        )
        raise DataError(
            f"{path}: target must be 0 or 1 and agree with benign_malignant (benign 0, malignant 1): {listed}"
        )


def read(root: str | os.PathLike) -> pd.DataFrame:
    """The contract's table (skinlight.data.sources) of an ISIC 2020 download; a bad file or row stops."""
    root = existing_root(root)
    path = find_csv(root, CSV_NAMES, "metadata CSV")
    df = read_csv_table(path, "metadata CSV", required=REQUIRED, id_columns=("image_name",))
    require_columns(df, path, "metadata CSV", META_COLUMNS)
    check_target(df, path)
    names = {"image_id": "image_name", "lesion_id": "lesion_id", "patient_id": "patient_id", "age": "age_approx"}
    table = contract_table(df, {**names, "diagnosis": "diagnosis", "sex": "sex", "site": META_COLUMNS[2]})
    return with_images(table, root, path)
