"""A synthetic SIIM-ISIC 2020 training set in Kaggle's layout (data=isic2020), drawn by skinlight.synthetic.draw.

    root/train.csv                    image_name,patient_id,sex,age_approx,anatom_site_general_challenge,
                                      diagnosis,benign_malignant,target
    root/jpeg/train/ISIC_xxxxxxx.jpg
    root/synthetic.json               parameters and counts

ISIC 2020's diagnoses: nevus, melanoma (the one malignant one), the benign keratoses (seborrheic keratosis,
lentigo NOS, lichenoid keratosis, solar lentigo in turn) and "unknown": the lesions drawn as akiec, bcc, df
or vasc, which ISIC 2020 does not name (one each a cafe-au-lait macule and an atypical melanocytic
proliferation). Random 7-digit image ids; a patient per lesion, except nevi, two to a patient.

CLI: ``skinlight-synthetic --layout isic2020 --out DIR [--num-lesions N] [--width PX --height PX]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.isic2020 import CSV_NAMES, META_COLUMNS
from skinlight.synthetic.isic_archive import archive_sex, archive_site, in_turn, plan, refuse_used, render, write_info

IMAGE_DIR = "jpeg/train"
WORDS = {
    "nv": ("nevus",),
    "mel": ("melanoma",),
    "bkl": ("seborrheic keratosis", "lentigo NOS", "lichenoid keratosis", "solar lentigo"),
    **dict.fromkeys(("akiec", "bcc", "df", "vasc"), ("unknown",)),
}
RARE = ("cafe-au-lait macule", "atypical melanocytic proliferation")  # given to the first "unknown" lesions


def _diagnoses(rows: pd.DataFrame) -> list:
    words = in_turn(rows, WORDS)
    unknown = sorted(rows.loc[[w == "unknown" for w in words], "lesion_index"].unique())
    rare = dict(zip(unknown, RARE))
    return [rare.get(i, w) if w == "unknown" else w for w, i in zip(words, rows["lesion_index"])]


def _patients(rows: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """IP_ ids: one per lesion, nevi two to a patient."""
    lesions = rows.drop_duplicates("lesion_index")
    nevi = lesions.loc[lesions["dx"] == "nv", "lesion_index"].to_numpy()
    patient = {lesion: f"nv{k // 2}" for k, lesion in enumerate(nevi)}
    keys = [patient.get(i, f"lesion{i}") for i in rows["lesion_index"]]
    names = dict(zip(dict.fromkeys(keys), rng.choice(9_000_000, len(set(keys)), replace=False) + 1_000_000))
    return [f"IP_{names[k]:07d}" for k in keys]


def generate_isic2020(
    root: str | os.PathLike, num_lesions: int = 200, seed: int = 0, image_size: tuple[int, int] = (600, 450)
) -> pd.DataFrame:
    """Write a synthetic ISIC 2020 training set (see the module docstring) into `root`; return train.csv."""
    root = Path(root)
    refuse_used(root, CSV_NAMES[0], "an ISIC 2020 training set")
    rows = plan(num_lesions, seed, {})
    rng = np.random.default_rng([seed, 5])
    names = rng.choice(9_000_000, len(rows), replace=False) + 1_000_000
    diagnosis = _diagnoses(rows)
    malignant = np.array([d == "melanoma" for d in diagnosis])
    table = pd.DataFrame(
        {
            "image_name": [f"ISIC_{n:07d}" for n in names],
            "patient_id": _patients(rows, rng),
            "sex": archive_sex(rows["sex"]),
            "age_approx": rows["age"],
            META_COLUMNS[2]: archive_site(rows["localization"], torso="torso"),
            "diagnosis": diagnosis,
            "benign_malignant": np.where(malignant, "malignant", "benign"),
            "target": malignant.astype(int),
        }
    )
    render(rows, seed, image_size, [root / IMAGE_DIR / f"{i}.jpg" for i in table["image_name"]])
    counts = table["diagnosis"].value_counts()
    write_info(
        root,
        "skinlight.synthetic.isic2020",
        num_lesions=num_lesions,
        seed=seed,
        image_size=list(image_size),
        num_images=len(table),
        images_per_diagnosis={k: int(v) for k, v in counts.items()},
    )
    table = table.sort_values("image_name", ignore_index=True)
    table.to_csv(root / CSV_NAMES[0], index=False)  # written last: marks a complete dataset
    return table
