"""Reader of Derm7pt (`data=derm7pt`; Kawahara et al. 2019, "Seven-point checklist and skin lesion classification
using multitask multimodal neural nets", IEEE JBHI 23(2)): 1,011 cases, each with a dermoscopic and a clinical
image, as release_v0 from derm.cs.sfu.ca.

    root/meta/meta.csv               case_num, diagnosis, seven_point_score, pigment_network, streaks,
                                     pigmentation, regression_structures, dots_and_globules, blue_whitish_veil,
                                     vascular_structures, level_of_diagnostic_difficulty, elevation, location,
                                     sex, management, clinic, derm, case_id, notes
    root/meta/train_indexes.csv      `indexes`: 0-based rows of meta.csv (413 cases)
    root/meta/valid_indexes.csv      (203 cases)
    root/meta/test_indexes.csv       (395 cases)
    root/images/<folder>/<file>      clinic and derm are paths below images/, e.g. NEL/NEL025.JPG, NEL/Nel026.jpg
    (root also holds README.txt, clinic.html, derm.html)

One row per case, with its dermoscopic image (`derm`; the clinical one is not read). image_id = lesion_id =
"derm7pt_<case_num>" (the bare numbers 1..1011 would clash with other sources' ids); no patient ids, no age.
`split` is the index files' (train, val = valid_indexes.csv, test): each case in exactly one of them.

Verified (a search of public code and pages): the layout and file names, meta.csv's 19 columns in the order
above (1,011 rows), the index files' `indexes` column and sizes (jeremykawahara/derm7pt), its 15 diagnoses
(that repository's dataset.py, melanoma in six of them), sex as female/male, the locations abdomen, head neck,
lower limbs, upper limbs. Assumed: the other location words (back, chest, buttocks, acral, genital areas).
Synthetic copy: skinlight.synthetic.derm7pt.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from skinlight.data.layouts.files import contract_table, existing_root, folder, read_csv_table, require_columns, show
from skinlight.data.layouts.images import check_images
from skinlight.errors import DataError

META_DIR, IMAGE_DIR = "meta", "images"
META = f"{META_DIR}/meta.csv"
INDEX_FILES = {"train": "train_indexes.csv", "val": "valid_indexes.csv", "test": "test_indexes.csv"}  # in meta/
PREFIX = "derm7pt_"  # image_id = lesion_id = PREFIX + case_num
META_COLUMNS = ("diagnosis", "location", "sex")  # needed, may be blank (taxonomy: a blank diagnosis)

TABLE = META
ISIC_IDS = False
DIAGNOSES = {
    "basal cell carcinoma": "bcc",
    **dict.fromkeys(
        ("blue nevus", "clark nevus", "combined nevus", "congenital nevus", "dermal nevus", "recurrent nevus"), "nv"
    ),
    "reed or spitz nevus": "nv",
    **dict.fromkeys(("melanoma", "melanoma (in situ)", "melanoma (less than 0.76 mm)"), "mel"),
    **dict.fromkeys(("melanoma (0.76 to 1.5 mm)", "melanoma (more than 1.5 mm)", "melanoma metastasis"), "mel"),
    "dermatofibroma": "df",
    **dict.fromkeys(("lentigo", "seborrheic keratosis"), "bkl"),  # HAM10000's bkl: lentigines, keratoses
    "vascular lesion": "vasc",
    # melanosis (a hyperpigmentation) and miscellaneous (the release's catch-all) are no class of HAM10000's
    **dict.fromkeys(("melanosis", "miscellaneous"), "unknown"),
}
SITES = {
    **dict.fromkeys(("abdomen", "back", "chest", "buttocks"), "torso"),
    "head neck": "head/neck",
    "upper limbs": "upper extremity",
    "lower limbs": "lower extremity",
    "acral": "palms/soles",
    "genital areas": "oral/genital",
}


def _index_rows(path: Path, rows: int) -> pd.DataFrame:
    """One index file: its `indexes` as whole numbers in 0..rows-1, with their lines."""
    df = read_csv_table(path, "Derm7pt index CSV", required=("indexes",))
    text = df["indexes"].str.strip()
    bad = df.index[~text.str.fullmatch(r"\d+")]
    if len(bad):
        listed = show(f"line {i + 2} ({df.at[i, 'indexes']!r})" for i in bad)
        raise DataError(f"Derm7pt index CSV {path}: indexes must be whole numbers (0-based rows of {META}): {listed}")
    numbers = text.astype(int)
    out = df.index[numbers >= rows]
    if len(out):
        listed = show(f"line {i + 2} ({numbers[i]})" for i in out)
        raise DataError(
            f"Derm7pt index CSV {path}: index out of range ({META} has {rows} rows, 0..{rows - 1}): {listed}"
        )
    return pd.DataFrame({"row": numbers, "file": path.name, "line": df.index + 2})


def read_splits(root: Path, ids: pd.Series) -> pd.Series:
    """The split of each meta.csv row (`ids`: its image ids) from the three index files; a case in two files
    (or twice in one) or in none stops, naming the files, lines and cases."""
    listed = {split: _index_rows(root / META_DIR / name, len(ids)) for split, name in INDEX_FILES.items()}
    rows = pd.concat([frame.assign(split=split) for split, frame in listed.items()], ignore_index=True)
    twice = rows[rows["row"].duplicated(keep=False)]
    if len(twice):
        cases = [
            f"{ids[row]} (line {row + 2}) in " + " and ".join(f"{f} line {n}" for f, n in zip(g["file"], g["line"]))
            for row, g in twice.groupby("row")
        ]
        raise DataError(f"{root / META_DIR}: a case is in one index file only, but: {show(cases)}")
    split = rows.set_index("row")["split"].reindex(range(len(ids)))
    none = split.index[split.isna()]
    if len(none):
        files = ", ".join(INDEX_FILES.values())
        listed = show(f"line {i + 2} ({ids[i]})" for i in none)
        raise DataError(f"{root / META}: {len(none)} case(s) in none of the index files ({files}): {listed}")
    return split


def read(root: str | os.PathLike) -> pd.DataFrame:
    """The contract's table (skinlight.data.sources) of Derm7pt with its `split`; a bad file or row stops."""
    root = existing_root(root)
    path = folder(root, META_DIR) / "meta.csv"
    df = read_csv_table(path, "metadata CSV", required=("case_num", "derm"), id_columns=("case_num",))
    require_columns(df, path, "metadata CSV", META_COLUMNS)
    df = df.assign(image_id=PREFIX + df["case_num"].str.strip())
    names = {"image_id": "image_id", "lesion_id": "image_id", "diagnosis": "diagnosis", "sex": "sex"}
    table = contract_table(df, {**names, "site": "location"})
    table["split"] = read_splits(root, df["image_id"]).to_numpy()
    table["path"] = [root / IMAGE_DIR / p.strip() for p in df["derm"]]
    absent = [f"line {i + 2} ({df.at[i, 'image_id']}: {p})" for i, p in table["path"].items() if not p.is_file()]
    if absent:
        raise DataError(f"{len(absent)} dermoscopic image(s) listed in {path} not found: {show(absent)}")
    check_images(table["path"])
    return table.reset_index(drop=True)
