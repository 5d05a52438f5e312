"""A synthetic BCN20000 as the ISIC Archive's collection download (data=bcn20000), drawn by skinlight.synthetic.draw.

    root/metadata.csv                     export="2024": isic_id, attribution, copyright_license, age_approx,
                                          anatom_site_general, diagnosis_1, diagnosis_2, diagnosis_3,
                                          image_type, lesion_id, sex
    root/bcn20000_metadata_2023-08-28.csv export="2023" instead: benign_malignant and diagnosis for the three
    root/ISIC-images/ISIC_xxxxxxx.jpg
    root/synthetic.json                   parameters and counts

HAM10000's seven classes and squamous cell carcinoma (drawn as akiec) in the archive's words of that export:
melanoma metastases among the melanomas, solar lentigines among the keratoses; in the 2024 form the vascular
lesions have no diagnosis_3 (diagnosis_2 "Benign soft tissue proliferations - Vascular"), as in the real one.

CLI: ``skinlight-synthetic --layout bcn20000 --out DIR [--num-lesions N] [--export 2023|2024] [...]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.bcn20000 import CSV_NAMES
from skinlight.errors import ConfigError
from skinlight.synthetic.isic_archive import archive_sex, archive_site, in_turn, plan, refuse_used, render, write_info

IMAGE_DIR = "ISIC-images"
FIRST_NUMBER = 100000  # ISIC_0100000 on: apart from the other synthetic sets (synthetic.isic_archive)
OLDER_CSV = "bcn20000_metadata_2023-08-28.csv"
# export 2024: the archive's hierarchy (diagnosis_1, diagnosis_2, diagnosis_3 words in turn; None: blank)
HIERARCHY = {
    "nv": ("Benign", "Benign melanocytic proliferations", ("Nevus",)),
    "mel": ("Malignant", "Malignant melanocytic proliferations (Melanoma)", ("Melanoma, NOS", "Melanoma metastasis")),
    "bcc": ("Malignant", "Malignant adnexal epithelial proliferations - Follicular", ("Basal cell carcinoma",)),
    "akiec": ("Indeterminate", "Indeterminate epidermal proliferations", ("Solar or actinic keratosis",)),
    "bkl": ("Benign", "Benign epidermal proliferations", ("Seborrheic keratosis", "Solar lentigo")),
    "df": ("Benign", "Benign soft tissue proliferations - Fibro-histiocytic", ("Dermatofibroma",)),
    "vasc": ("Benign", "Benign soft tissue proliferations - Vascular", (None,)),
    "scc": ("Malignant", "Malignant epidermal proliferations", ("Squamous cell carcinoma, NOS",)),
}
# export 2023: benign_malignant, diagnosis words in turn
OLDER = {
    "nv": ("benign", ("nevus",)),
    "mel": ("malignant", ("melanoma", "melanoma metastasis")),
    "bcc": ("malignant", ("basal cell carcinoma",)),
    "akiec": ("malignant", ("actinic keratosis",)),
    "bkl": ("benign", ("seborrheic keratosis", "solar lentigo")),
    "df": ("benign", ("dermatofibroma",)),
    "vasc": ("benign", ("vascular lesion",)),
    "scc": ("malignant", ("squamous cell carcinoma",)),
}


def _diagnosis_columns(rows: pd.DataFrame, export: str) -> dict:
    if export == "2024":
        return {
            "diagnosis_1": rows["dx"].map(lambda c: HIERARCHY[c][0]),
            "diagnosis_2": rows["dx"].map(lambda c: HIERARCHY[c][1]),
            "diagnosis_3": in_turn(rows, {c: words for c, (_, _, words) in HIERARCHY.items()}),
        }
    return {
        "benign_malignant": rows["dx"].map(lambda c: OLDER[c][0]),
        "diagnosis": in_turn(rows, {c: words for c, (_, words) in OLDER.items()}),
    }


def generate_bcn20000(
    root: str | os.PathLike,
    num_lesions: int = 200,
    seed: int = 0,
    image_size: tuple[int, int] = (600, 450),
    export: str = "2024",
) -> pd.DataFrame:
    """Write a synthetic BCN20000 collection download (see the module docstring) into `root`; return its metadata."""
    root = Path(root)
    if export not in ("2023", "2024"):
        raise ConfigError(f"export={export!r}: choose 2024 (diagnosis_1..3) or 2023 (diagnosis)")
    for pattern in CSV_NAMES:
        for used in root.glob(pattern):
            refuse_used(root, used.name, "a BCN20000 download")
    rows = plan(num_lesions, seed, {"scc": ("akiec", 0.04)})
    lesion_numbers = np.random.default_rng([seed, 6]).permutation(rows["lesion_index"].max() + 1)
    table = pd.DataFrame(
        {
            "isic_id": [f"ISIC_{FIRST_NUMBER + n:07d}" for n in rows["image_number"]],
            "attribution": "Hospital Clínic de Barcelona",
            "copyright_license": "CC-BY-SA",
            "age_approx": rows["age"],
            "anatom_site_general": archive_site(rows["localization"]),
            **_diagnosis_columns(rows, export),
            "image_type": "dermoscopic",
            "lesion_id": [f"IL_{lesion_numbers[i]:07d}" for i in rows["lesion_index"]],
            "sex": archive_sex(rows["sex"]),
        }
    )
    render(rows, seed, image_size, [root / IMAGE_DIR / f"{i}.jpg" for i in table["isic_id"]])
    write_info(
        root,
        "skinlight.synthetic.bcn20000",
        num_lesions=num_lesions,
        seed=seed,
        export=export,
        image_size=list(image_size),
        num_images=len(table),
        images_per_class={c: int((rows["dx"] == c).sum()) for c in HIERARCHY},
    )
    table = table.sort_values("isic_id", ignore_index=True)
    table.to_csv(root / (CSV_NAMES[0] if export == "2024" else OLDER_CSV), index=False)  # last: a complete dataset
    return table
