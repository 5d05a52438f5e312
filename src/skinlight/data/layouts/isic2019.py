"""Reader of the ISIC 2019 training data (`data=isic2019`): 25,331 dermoscopic images of HAM10000, BCN_20000
and MSK, as downloaded from challenge2019.isic-archive.com (Task 1 images and ground truth, Task 2 metadata).

    root/ISIC_2019_Training_Input/ISIC_xxxxxxx.jpg       (some ISIC_xxxxxxx_downsampled.jpg; the folder
                                                         also holds ATTRIBUTION.txt and LICENSE.txt)
    root/ISIC_2019_Training_GroundTruth.csv             image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK (one-hot, 1.0)
    root/ISIC_2019_Training_Metadata.csv                image,age_approx,anatom_site_general,lesion_id,sex

The image id is the CSV's `image` (with its "_downsampled" suffix where the file has it); images are found
anywhere below root. `diagnosis` is the ground truth's column name (e.g. "AK"). lesion_id (HAM_..., BCN_...,
MSK4_...) and age are blank for some images; there are no patient ids. Every ground-truth image needs a
metadata row and the other way round. HAM10000's images are in it under their own ids (ISIC_0024306 ...
ISIC_0034320) and lesion ids: data=combined keeps them once.

Verified (a search of public code and pages): the three names, the ground truth's header as above (1.0 / 0.0
cells), the metadata's columns (25,331 rows of age, sex, general site, lesion id). Assumed: the site words
(the archive's anatom_site_general, as in BCN20000), UNK all 0 in the training data (the challenge's test set
holds that class). Synthetic copy: skinlight.synthetic.isic2019.
"""

from __future__ import annotations

import os

import pandas as pd

from skinlight.data.layouts.files import contract_table, existing_root, read_csv_table, require_columns, show
from skinlight.data.layouts.images import with_images
from skinlight.data.layouts.isic_archive import SITES as ARCHIVE_SITES
from skinlight.data.layouts.isic_archive import one_hot
from skinlight.errors import DataError

GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
METADATA = "ISIC_2019_Training_Metadata.csv"
IMAGE_DIR = "ISIC_2019_Training_Input"
ONE_HOT = ("MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK")  # the ground truth's column order
META_COLUMNS = ("image", "age_approx", "anatom_site_general", "lesion_id", "sex")

TABLE = GROUND_TRUTH
METADATA_TABLE = METADATA  # age, sex and site
ISIC_IDS = True
DIAGNOSES = {
    **{c.lower(): c.lower() for c in ("MEL", "NV", "BCC", "BKL", "DF", "VASC", "SCC")},
    "ak": "akiec",  # actinic keratosis (HAM10000's akiec also holds Bowen's disease; ISIC 2019 has it in SCC)
    "unk": "unknown",
}
SITES = ARCHIVE_SITES


def _unmatched(ids: pd.Series, others: pd.Series, path, where: str) -> None:
    """Images of `ids` (read from `path`) that `others` (the other CSV, `where`) does not list stop here."""
    missing = ids.index[~ids.isin(others)]
    if len(missing):
        listed = show(f"line {i + 2} ({ids[i]})" for i in missing)
        raise DataError(f"{path}: {len(missing)} image(s) have no row in {where}: {listed}; both list every image")


def read(root: str | os.PathLike) -> pd.DataFrame:
    """The contract's table (skinlight.data.sources) of an ISIC 2019 download; a bad file or row stops."""
    root = existing_root(root)
    truth_path, meta_path = root / GROUND_TRUTH, root / METADATA
    truth = read_csv_table(truth_path, "ground-truth CSV", required=("image", *ONE_HOT), id_columns=("image",))
    meta = read_csv_table(meta_path, "metadata CSV", required=("image",), id_columns=("image",))
    require_columns(meta, meta_path, "metadata CSV", META_COLUMNS)
    _unmatched(truth["image"], meta["image"], truth_path, METADATA)
    _unmatched(meta["image"], truth["image"], meta_path, GROUND_TRUTH)
    rows = truth[["image"]].assign(diagnosis=one_hot(truth, ONE_HOT, truth_path, "image"))
    rows = rows.merge(meta, on="image", how="left").set_axis(truth.index)
    names = {"image_id": "image", "lesion_id": "lesion_id", "diagnosis": "diagnosis", "age": "age_approx"}
    table = contract_table(rows, {**names, "sex": "sex", "site": "anatom_site_general"})
    return with_images(table, root, truth_path)
