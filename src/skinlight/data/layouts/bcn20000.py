"""Reader of BCN20000 (`data=bcn20000`; Hernández-Pérez et al. 2024, Scientific Data 11:641): 18,946 dermoscopic
images of the Hospital Clínic de Barcelona, read as the ISIC Archive distributes it (collection 249).

    root/metadata.csv                     the collection's metadata (or one root/bcn20000_metadata*.csv)
    root/ISIC-images/ISIC_xxxxxxx.jpg     the images, anywhere below root (the archive's zip holds a folder)

The metadata has isic_id, lesion_id, age_approx, sex, anatom_site_general and the diagnosis: `diagnosis_3`
in newer exports (the archive's diagnosis hierarchy, e.g. "Nevus", "Melanoma, NOS", "Basal cell carcinoma"),
`diagnosis` in older ones (e.g. "nevus", "melanoma", "basal cell carcinoma"); diagnosis_3 is read where
both are. A row whose diagnosis_3 is blank takes its most specific given level (diagnosis_2, then
diagnosis_1): the vascular lesions have none finer than diagnosis_2 "Benign soft tissue proliferations -
Vascular". A patient_id column is read where there is one (else blank: the split groups by lesion).

Verified (a search of public code and pages): the collection (249, BCN20000, 18,946 images), the columns
isic_id, lesion_id, diagnosis_1..3 of an export of 2026 and their values (1,307 rows with a blank
diagnosis_3: 151 vascular with diagnosis_2 only, 1,156 with no diagnosis at all: such a row stops the run,
naming it), `diagnosis` in an export of 2023 (bcn20000_metadata_2023-08-28.csv). Assumed: the names
metadata.csv and ISIC-images/ of the zip, age_approx, sex, anatom_site_general (the archive's columns), the
older export's words beyond those listed. Synthetic copy: skinlight.synthetic.bcn20000.
"""

from __future__ import annotations

import os

import pandas as pd

from skinlight.data.layouts.files import contract_table, existing_root, read_csv_table, require_columns, show
from skinlight.data.layouts.images import with_images
from skinlight.data.layouts.isic_archive import SITES as ARCHIVE_SITES
from skinlight.data.layouts.isic_archive import find_csv
from skinlight.errors import DataError

CSV_NAMES = ("metadata.csv", "bcn20000_metadata*.csv")
DIAGNOSIS_COLUMNS = ("diagnosis_3", "diagnosis")  # by preference
LEVELS = ("diagnosis_3", "diagnosis_2", "diagnosis_1")  # the hierarchy, most specific first
META_COLUMNS = ("lesion_id", "age_approx", "sex", "anatom_site_general")

TABLE = CSV_NAMES[0]
ISIC_IDS = True
DIAGNOSES = {
    # older exports (`diagnosis`)
    "nevus": "nv",
    **dict.fromkeys(("melanoma", "melanoma metastasis"), "mel"),
    "basal cell carcinoma": "bcc",
    "squamous cell carcinoma": "scc",
    "actinic keratosis": "akiec",
    **dict.fromkeys(("seborrheic keratosis", "solar lentigo", "lichenoid keratosis", "lentigo nos"), "bkl"),
    "dermatofibroma": "df",
    "vascular lesion": "vasc",
    **dict.fromkeys(("scar", "other"), "unknown"),  # not a lesion class of HAM10000's
    # newer exports (`diagnosis_3`, the archive's hierarchy), and diagnosis_2 where it is the finest given
    **dict.fromkeys(("melanoma, nos", "melanoma invasive", "melanoma in situ"), "mel"),
    **dict.fromkeys(("squamous cell carcinoma, nos", "squamous cell carcinoma in situ"), "scc"),
    "squamous cell carcinoma, invasive": "scc",
    "solar or actinic keratosis": "akiec",
    "lichen planus like keratosis": "bkl",
    # HAM10000's vasc: angiomas, angiokeratomas, pyogenic granulomas
    **dict.fromkeys(("hemangioma", "angiokeratoma", "pyogenic granuloma"), "vasc"),
    "benign soft tissue proliferations - vascular": "vasc",
}
SITES = ARCHIVE_SITES


def diagnosis_column(df: pd.DataFrame, path) -> pd.Series:
    """diagnosis_3 (blank: the finest given level) or, in older exports, diagnosis."""
    if DIAGNOSIS_COLUMNS[0] in df.columns:
        levels = [df[c] for c in LEVELS if c in df.columns]
        finest = levels[0]
        for level in levels[1:]:
            finest = finest.fillna(level)
        return finest
    if DIAGNOSIS_COLUMNS[1] in df.columns:
        return df[DIAGNOSIS_COLUMNS[1]]
    raise DataError(
        f"metadata CSV {path}: no diagnosis column: expected diagnosis_3 (newer ISIC Archive exports) or diagnosis "
        f"(older ones); found {show(df.columns, 20)}"
    )


def read(root: str | os.PathLike) -> pd.DataFrame:
    """The contract's table (skinlight.data.sources) of the BCN20000 collection; a bad file or row stops."""
    root = existing_root(root)
    path = find_csv(root, CSV_NAMES, "BCN20000 metadata CSV")
    df = read_csv_table(path, "metadata CSV", required=("isic_id",), id_columns=("isic_id",))
    require_columns(df, path, "metadata CSV", META_COLUMNS)
    df = df.assign(finest_diagnosis=diagnosis_column(df, path))
    names = {"image_id": "isic_id", "lesion_id": "lesion_id", "patient_id": "patient_id", "age": "age_approx"}
    table = contract_table(df, {**names, "diagnosis": "finest_diagnosis", "sex": "sex", "site": "anatom_site_general"})
    return with_images(table, root, path)
