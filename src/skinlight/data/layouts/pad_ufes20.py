"""Reader of PAD-UFES-20 (`data=pad_ufes20`; Pacheco et al. 2020, Data in Brief 32:106221): 2,298 clinical images
(smartphone photographs, not dermoscopy) of 1,641 lesions of 1,373 patients, as version 1 of Mendeley Data
zr7vgbcyr2 (doi:10.17632/zr7vgbcyr2.1) unpacks.

    root/metadata.csv                 patient_id, lesion_id, smoke, drink, background_father, background_mother,
                                      age, pesticide, gender, skin_cancer_history, cancer_history,
                                      has_piped_water, has_sewage_system, fitspatrick, region, diameter_1,
                                      diameter_2, diagnostic, itch, grew, hurt, changed, bleed, elevation,
                                      img_id, biopsed
    root/images/imgs_part_1/*.png     PAT_<patient>_<lesion>_<n>.png; the images are found in any folder below
    root/images/imgs_part_2/*.png     root (the zips unpack to imgs_part_k/ or imgs_part_k/imgs_part_k/)
    root/images/imgs_part_3/*.png

image_id is img_id without its suffix (PAT_46_881_14.png -> PAT_46_881_14); patient_id (PAT_46) and lesion_id
(881) as given: the split keeps a patient's images together. diagnostic is one of ACK, BCC, MEL, NEV, SCC, SEK
(Bowen's disease, BOD, is counted in SCC by the release; read as akiec where it appears, HAM10000's akiec holding
Bowen's disease). gender is MALE / FEMALE, blank for some patients, as are most other patient columns.

Verified (a search of public code and pages): the columns in the order above and a row of them (PAT_46, 881,
..., NECK, ..., BCC, ..., PAT_46_881_14.png, True), the image folders imgs_part_1..3, the six diagnostics and
BOD clustered into SCC (the Mendeley page), the counts (the paper's abstract). Assumed: the region words beyond
NECK (ARM, FOREARM, HAND, THIGH, FOOT, FACE, NOSE, SCALP, EAR, LIP, CHEST, BACK, ABDOMEN).
Synthetic copy: skinlight.synthetic.pad_ufes20.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skinlight.data.layouts.files import (
    IMAGE_SUFFIXES,
    check_table,
    contract_table,
    existing_root,
    read_csv_table,
    require_columns,
    show,
)
from skinlight.data.layouts.ham10000 import lesion_with_two_labels
from skinlight.data.layouts.images import with_images
from skinlight.errors import DataError

METADATA = "metadata.csv"
REQUIRED = ("patient_id", "lesion_id", "img_id")  # present and never blank
META_COLUMNS = ("diagnostic", "age", "gender", "region")  # present, may be blank (taxonomy: a blank diagnosis)

TABLE = METADATA
ISIC_IDS = False
DIAGNOSES = {
    "ack": "akiec",  # actinic keratosis
    "bod": "akiec",  # Bowen's disease (SCC in situ): in HAM10000's akiec
    "bcc": "bcc",
    "mel": "mel",
    "nev": "nv",
    "scc": "scc",
    "sek": "bkl",  # seborrheic keratosis
}
SITES = {
    **dict.fromkeys(("arm", "forearm", "hand"), "upper extremity"),
    **dict.fromkeys(("thigh", "foot"), "lower extremity"),
    **dict.fromkeys(("neck", "face", "nose", "scalp", "ear", "lip"), "head/neck"),
    **dict.fromkeys(("chest", "back", "abdomen"), "torso"),
}


def image_id(img_id: str) -> str:
    """img_id without its image suffix (PAT_46_881_14.png -> PAT_46_881_14)."""
    stem, suffix = os.path.splitext(img_id.strip())
    return stem if suffix.lower() in IMAGE_SUFFIXES else img_id.strip()


def lesion_of_one_patient(df: pd.DataFrame, path: Path) -> None:
    """A lesion_id with images of two patient_ids stops (the split keeps patients, not lesions, together)."""
    patients = df.groupby("lesion_id")["patient_id"].nunique()
    shared = patients.index[patients > 1]
    if len(shared):
        rows = [f"{lesion}: {', '.join(sorted(set(df.patient_id[df.lesion_id == lesion])))}" for lesion in shared]
        raise DataError(f"{path}: a lesion is one patient's, but lesion_id(s) have images of two: {show(rows, 3)}")


def read(root: str | os.PathLike) -> pd.DataFrame:
    """The contract's table (skinlight.data.sources) of PAD-UFES-20; a bad file or row stops."""
    root = existing_root(root)
    path = root / METADATA
    df = read_csv_table(path, "metadata CSV", required=REQUIRED, id_columns=("img_id",))
    require_columns(df, path, "metadata CSV", META_COLUMNS)
    df = check_table(df.assign(image_id=df["img_id"].map(image_id)), path, "metadata CSV", id_columns=("image_id",))
    lesion_with_two_labels(df, "diagnostic", path)
    lesion_of_one_patient(df, path)
    names = {"image_id": "image_id", "lesion_id": "lesion_id", "patient_id": "patient_id", "diagnosis": "diagnostic"}
    table = contract_table(df, {**names, "age": "age", "sex": "gender", "site": "region"})
    return with_images(table, root, path)
