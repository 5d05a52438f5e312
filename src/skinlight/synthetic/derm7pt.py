"""A synthetic Derm7pt release_v0 (data=derm7pt), lesions drawn by skinlight.synthetic.draw.

``generate_derm7pt(root)`` writes the layout skinlight.data.layouts.derm7pt reads::

    root/meta/meta.csv                        the 19 columns of the release, one row per case
    root/meta/{train,valid,test}_indexes.csv  `indexes`: 0-based rows of meta.csv, about 40/20/40 % per class
    root/images/Fkk/Fnnnn.JPG, fnnnn.jpg      each case's clinical and dermoscopic image
    root/synthetic.json                       generation parameters

HAM10000's classes without akiec (Derm7pt has none), one image per lesion, plus a few "miscellaneous" and
"melanosis" cases (drawn as bkl); several native names per class, in turn. The seven-point criteria are drawn
at random and seven_point_score is their sum. The lesions are planned and drawn on seed + DRAWN (other lesions
than the other synthetic layouts' of the same seed: data=combined would find them copies), the clinical images
on seed + DRAWN + 1 (the reader does not use them). The same arguments give the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.derm7pt import IMAGE_DIR, INDEX_FILES, META, META_DIR
from skinlight.synthetic.isic_archive import archive_sex, in_turn, plan, refuse_used, render, write_info

COLUMNS = (
    "case_num",
    "diagnosis",
    "seven_point_score",
    "pigment_network",
    "streaks",
    "pigmentation",
    "regression_structures",
    "dots_and_globules",
    "blue_whitish_veil",
    "vascular_structures",
    "level_of_diagnostic_difficulty",
    "elevation",
    "location",
    "sex",
    "management",
    "clinic",
    "derm",
    "case_id",
    "notes",
)
WORDS = {  # common class -> Derm7pt diagnoses, given in turn
    "bcc": ("basal cell carcinoma",),
    "bkl": ("seborrheic keratosis", "lentigo"),
    "df": ("dermatofibroma",),
    "mel": ("melanoma", "melanoma (in situ)", "melanoma (less than 0.76 mm)", "melanoma (more than 1.5 mm)"),
    "nv": ("clark nevus", "dermal nevus", "blue nevus", "reed or spitz nevus"),
    "vasc": ("vascular lesion",),
    "unknown": ("miscellaneous", "melanosis"),
}
LOCATIONS = {  # HAM10000's localization -> Derm7pt's location (unknown: blank)
    **{site: site for site in ("abdomen", "back", "chest", "acral")},
    "trunk": "back",
    **dict.fromkeys(("face", "scalp", "ear", "neck"), "head neck"),
    **dict.fromkeys(("upper extremity", "hand"), "upper limbs"),
    **dict.fromkeys(("lower extremity", "foot"), "lower limbs"),
    "genital": "genital areas",
}
CRITERIA = {  # the seven-point checklist: each criterion's values and their points
    "pigment_network": {"absent": 0, "typical": 0, "atypical": 2},
    "streaks": {"absent": 0, "regular": 0, "irregular": 1},
    "pigmentation": {
        **dict.fromkeys(("absent", "diffuse regular", "localized regular"), 0),
        **dict.fromkeys(("diffuse irregular", "localized irregular"), 1),
    },
    "regression_structures": {"absent": 0, "blue areas": 1, "white areas": 1, "combinations": 1},
    "dots_and_globules": {"absent": 0, "regular": 0, "irregular": 1},
    "blue_whitish_veil": {"absent": 0, "present": 2},
    "vascular_structures": {
        **dict.fromkeys(("absent", "arborizing", "comma", "hairpin", "within regression", "wreath"), 0),
        **dict.fromkeys(("dotted", "linear irregular"), 2),
    },
}
CHOICES = {
    "level_of_diagnostic_difficulty": ("low", "medium", "high"),
    "elevation": ("flat", "palpable", "nodular"),
    "management": ("excision", "clinical follow up", "no further examination"),
}
DRAWN = 7000  # plan and draw on seed + DRAWN: other lesions than the other synthetic layouts' (data=combined)
DEAL = ("train", "test", "val", "train", "test")  # each class's cases in turn: 40 % train, 20 % val, 40 % test


def _checklist(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The seven criteria of `n` cases drawn at random, and seven_point_score (their points)."""
    drawn = {name: rng.choice(list(points), n) for name, points in CRITERIA.items()}
    score = sum(np.vectorize(CRITERIA[name].get)(values) for name, values in drawn.items())
    return {"seven_point_score": score, **drawn}


def _deal(dx: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """train/val/test of each case: every class's cases shuffled and dealt in the turn of DEAL."""
    split = np.empty(len(dx), dtype=object)
    for _, rows in dx.groupby(dx, sort=True):
        order = rng.permutation(rows.index.to_numpy())
        split[order] = [DEAL[k % len(DEAL)] for k in range(len(order))]
    return split


def generate_derm7pt(
    root: str | os.PathLike, num_lesions: int = 100, seed: int = 0, image_size: tuple[int, int] = (768, 512)
) -> pd.DataFrame:
    """Write a synthetic Derm7pt (see the module docstring) into `root`; return meta.csv with each case's split.
    `num_lesions` sizes the HAM10000-like plan the cases are drawn from (its akiec lesions left out)."""
    root = Path(root)
    refuse_used(root, META, "Derm7pt")
    rows = plan(num_lesions, seed + DRAWN, {"unknown": ("bkl", 0.03)})
    rows = rows[rows["dx"] != "akiec"].drop_duplicates("lesion_index")
    rows = rows.assign(diagnosis=in_turn(rows, WORDS)).sort_values(["diagnosis", "lesion_index"], ignore_index=True)
    rng = np.random.default_rng([seed, 5])
    case = np.arange(1, len(rows) + 1)
    folders = [f"F{(c - 1) // 25 + 1:02d}" for c in case]
    meta = pd.DataFrame(
        {
            "case_num": case,
            "diagnosis": rows["diagnosis"],
            **_checklist(len(rows), rng),
            **{name: rng.choice(words, len(rows)) for name, words in CHOICES.items()},
            "location": rows["localization"].map(LOCATIONS),
            "sex": archive_sex(rows["sex"]),
            "clinic": [f"{f}/F{2 * c - 1:04d}.JPG" for f, c in zip(folders, case)],
            "derm": [f"{f}/f{2 * c:04d}.jpg" for f, c in zip(folders, case)],
            "case_id": np.nan,
            "notes": np.nan,
        }
    )[list(COLUMNS)]
    meta.loc[rows["dx"].isin(("bcc", "mel")), "management"] = "excision"
    split = _deal(rows["dx"], rng)
    size = (int(image_size[0]), int(image_size[1]))
    render(rows, seed + DRAWN, size, [root / IMAGE_DIR / p for p in meta["derm"]])
    render(rows, seed + DRAWN + 1, size, [root / IMAGE_DIR / p for p in meta["clinic"]])
    (root / META_DIR).mkdir(parents=True, exist_ok=True)
    for which, name in INDEX_FILES.items():
        pd.DataFrame({"indexes": np.flatnonzero(split == which)}).to_csv(root / META_DIR / name, index=False)
    counts = {which: int((split == which).sum()) for which in INDEX_FILES}
    write_info(root, "skinlight.synthetic.derm7pt", num_lesions=num_lesions, seed=seed, image_size=list(size), **counts)
    meta.to_csv(root / META, index=False)  # written last: marks a complete dataset
    return meta.assign(split=split)
