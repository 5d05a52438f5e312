"""A synthetic PAD-UFES-20 (data=pad_ufes20), lesions drawn by skinlight.synthetic.draw.

``generate_pad_ufes20(root)`` writes the layout skinlight.data.layouts.pad_ufes20 reads::

    root/metadata.csv                     the release's 26 columns, one row per image
    root/images/imgs_part_{1,2,3}/*.png   PAT_<patient>_<lesion>_<n>.png, dealt in turn
    root/synthetic.json                   generation parameters

HAM10000's classes without df and vasc (PAD-UFES-20 has neither) plus SCC drawn as akiec; HAM10000's images per
lesion, so some lesions have several images. Lesions of the classes with at least RARE lesions are grouped into
patients of one to three lesions; those of rarer classes have a patient each, so a small copy still splits by
patient with each class in train, val and test. The patient columns are blank for about a third of the
patients, as in the release (no questionnaire). Drawn as dermoscopy (the real images are smartphone photographs)
on seed + DRAWN: other lesions than the other synthetic layouts' of the same seed. The same arguments give the
same files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.pad_ufes20 import METADATA
from skinlight.synthetic.isic_archive import plan, refuse_used, render, write_info

COLUMNS = (
    "patient_id",
    "lesion_id",
    "smoke",
    "drink",
    "background_father",
    "background_mother",
    "age",
    "pesticide",
    "gender",
    "skin_cancer_history",
    "cancer_history",
    "has_piped_water",
    "has_sewage_system",
    "fitspatrick",
    "region",
    "diameter_1",
    "diameter_2",
    "diagnostic",
    "itch",
    "grew",
    "hurt",
    "changed",
    "bleed",
    "elevation",
    "img_id",
    "biopsed",
)
DIAGNOSTIC = {"akiec": "ACK", "bcc": "BCC", "bkl": "SEK", "mel": "MEL", "nv": "NEV", "scc": "SCC"}
REGIONS = {  # HAM10000's localization -> PAD-UFES-20 regions, in turn by lesion (unknown: blank)
    "face": ("FACE", "NOSE", "LIP"),
    "scalp": ("SCALP",),
    "ear": ("EAR",),
    "neck": ("NECK",),
    "upper extremity": ("ARM", "FOREARM"),
    "hand": ("HAND",),
    "lower extremity": ("THIGH",),
    **dict.fromkeys(("foot", "acral"), ("FOOT",)),
    **dict.fromkeys(("back", "trunk"), ("BACK",)),
    "chest": ("CHEST",),
    **dict.fromkeys(("abdomen", "genital"), ("ABDOMEN",)),
}
PATIENT_FLAGS = ("smoke", "drink", "pesticide", "skin_cancer_history", "cancer_history")
PATIENT_FLAGS += ("has_piped_water", "has_sewage_system")
LESION_FLAGS = ("itch", "grew", "hurt", "changed", "bleed", "elevation")  # True / False / UNK
BACKGROUNDS = ("POMERANIA", "GERMANY", "ITALY", "BRAZIL", "PORTUGAL", "NETHERLANDS", "POLAND", "SPAIN", "UNK")
BIOPSY_PROVEN = ("bcc", "mel", "scc")  # every skin cancer; the other lesions about half
RARE = 6  # lesions of a class with fewer have a patient each
P_NO_QUESTIONNAIRE = 0.3
DRAWN = 20000  # plan and draw on seed + DRAWN: other lesions than the other synthetic layouts' (data=combined)


def _flags(rng: np.random.Generator, n: int, words=("True", "False")) -> np.ndarray:
    return rng.choice(words, n)


def _patients(lesions: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """A patient number (0, 1, ...) for each lesion (dx): lesions of common classes in patients of 1-3 lesions."""
    common = lesions["dx"].map(lesions["dx"].value_counts()) >= RARE
    patient = np.empty(len(lesions), dtype=int)
    order = rng.permutation(np.flatnonzero(common.to_numpy()))
    sizes = rng.choice([1, 2, 3], len(order), p=[0.6, 0.3, 0.1])
    patient[order] = np.repeat(np.arange(len(order)), sizes)[: len(order)]
    alone = np.flatnonzero(~common.to_numpy())
    patient[alone] = patient[order].max(initial=-1) + 1 + np.arange(len(alone))
    return patient


def _patient_columns(first: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The patient columns of each patient (`first`: the plan's row of its first lesion)."""
    n = len(first)
    columns = pd.DataFrame({name: _flags(rng, n) for name in PATIENT_FLAGS}, index=first.index)
    columns["background_father"], columns["background_mother"] = (rng.choice(BACKGROUNDS, n) for _ in range(2))
    columns["fitspatrick"] = rng.choice(
        ["1.0", "2.0", "3.0", "4.0", "5.0", "6.0"], n, p=[0.1, 0.4, 0.3, 0.1, 0.06, 0.04]
    )
    columns["gender"] = first["sex"].str.upper().where(first["sex"] != "unknown")
    columns.loc[rng.random(n) < P_NO_QUESTIONNAIRE] = np.nan
    return columns.assign(age=first["age"].fillna(50).astype(int))


def _lesion_columns(lesions: pd.DataFrame, rng: np.random.Generator, answered: pd.Series) -> pd.DataFrame:
    """The lesion columns of each lesion (plan rows); diameters only where the patient `answered`."""
    n = len(lesions)
    columns = pd.DataFrame(
        {name: _flags(rng, n, ("True", "False", "UNK")) for name in LESION_FLAGS}, index=lesions.index
    )
    for name in ("diameter_1", "diameter_2"):
        columns[name] = np.round(rng.uniform(2, 25, n)).astype(int).astype(str)
        columns.loc[~answered.to_numpy(), name] = np.nan
    columns["region"] = [
        REGIONS[s][i % len(REGIONS[s])] if s in REGIONS else np.nan
        for s, i in zip(lesions["localization"], lesions["lesion_index"])
    ]
    columns["diagnostic"] = lesions["dx"].map(DIAGNOSTIC)
    columns["biopsed"] = np.where(lesions["dx"].isin(BIOPSY_PROVEN), "True", _flags(rng, n))
    return columns


def generate_pad_ufes20(
    root: str | os.PathLike, num_lesions: int = 100, seed: int = 0, image_size: tuple[int, int] = (512, 512)
) -> pd.DataFrame:
    """Write a synthetic PAD-UFES-20 (see the module docstring) into `root`; return its metadata.
    `num_lesions` sizes the HAM10000-like plan (its df and vasc lesions left out, SCC added)."""
    root = Path(root)
    refuse_used(root, METADATA, "PAD-UFES-20")
    rows = plan(num_lesions, seed + DRAWN, {"scc": ("akiec", 0.08)})
    rows = rows[~rows["dx"].isin(("df", "vasc"))].sort_values(["lesion_index", "image_number"], ignore_index=True)
    rng = np.random.default_rng([seed, 6])
    lesions = rows.drop_duplicates("lesion_index").set_index("lesion_index")
    lesions["patient"] = _patients(lesions, rng)
    patients = _patient_columns(lesions.groupby("patient").first(), rng)
    patient_number = pd.Series(rng.choice(np.arange(1, 10 * len(patients) + 1), len(patients), replace=False))
    lesion_number = pd.Series(rng.choice(np.arange(1, 10 * len(lesions) + 1), len(lesions), replace=False))
    answered = lesions["patient"].map(patients["smoke"].notna())
    per_lesion = _lesion_columns(lesions.reset_index(), rng, answered).set_index(lesions.index)
    per_lesion["patient_id"] = "PAT_" + lesions["patient"].map(patient_number).astype(str)
    per_lesion["lesion_id"] = lesion_number.to_numpy().astype(str)
    meta = rows[["lesion_index", "image_number"]].join(per_lesion, on="lesion_index")
    meta = meta.join(patients, on=lesions["patient"].reindex(meta["lesion_index"]).to_numpy())
    meta["img_id"] = meta["patient_id"] + "_" + meta["lesion_id"] + "_" + meta["image_number"].astype(str) + ".png"
    meta = meta[list(COLUMNS)]
    parts = [f"images/imgs_part_{i % 3 + 1}" for i in range(len(meta))]
    size = (int(image_size[0]), int(image_size[1]))
    render(rows, seed + DRAWN, size, [root / part / name for part, name in zip(parts, meta["img_id"])])
    write_info(root, "skinlight.synthetic.pad_ufes20", num_lesions=num_lesions, seed=seed, image_size=list(size))
    meta.to_csv(root / METADATA, index=False)  # written last: marks a complete dataset
    return meta.reset_index(drop=True)
