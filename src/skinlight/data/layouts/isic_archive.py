"""What the readers of ISIC-archive downloads share (isic2019, isic2020, bcn20000; the one-hot decoding also
isic2018_task3): the site words, one-hot ground truths, the contract's columns, finding the CSV and the images.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import index_images, show
from skinlight.data.layouts.images import check_images
from skinlight.errors import DataError

CONTRACT = ("image_id", "lesion_id", "patient_id", "diagnosis", "age", "sex", "site")  # skinlight.data.sources
# The archive's anatom_site_general (ISIC 2019, BCN20000) and ISIC 2020's anatom_site_general_challenge
SITES = {
    **dict.fromkeys(("anterior torso", "posterior torso", "lateral torso", "torso"), "torso"),
    **{site: site for site in ("head/neck", "upper extremity", "lower extremity", "palms/soles", "oral/genital")},
}


def require_columns(df: pd.DataFrame, path: Path, what: str, columns) -> None:
    """Columns that must be present (their cells may be blank)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what} {path}: missing column(s) {show(missing)}; found {show(df.columns, 20)}")


def one_hot(df: pd.DataFrame, columns, path: Path, id_column: str) -> pd.Series:
    """The column name of each row's 1 among `columns` (1.0 / 0.0 cells); a row without exactly one 1, or with
    another value, stops naming its lines."""
    values = df[list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(float)  # a non-number fails below
    bad = np.flatnonzero(((values == 1).sum(1) != 1) | ~np.isin(values, (0, 1)).all(1))
    if len(bad):
        raise DataError(
            f"{path}: each row needs exactly one 1 among {list(columns)}, the rest 0: "
            + show(f"line {i + 2} ({df[id_column].iloc[i]})" for i in bad)
        )
    return pd.Series(np.asarray(columns)[values.argmax(1)], index=df.index)


def contract_table(df: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """The contract's columns (CONTRACT) from the download's (`names`: contract column -> the download's);
    one the download does not have is blank (pd.NA). The index (the CSV's rows) is kept for messages."""
    return pd.DataFrame(
        {c: df[names[c]] if names.get(c) in df.columns else pd.Series(pd.NA, index=df.index) for c in CONTRACT}
    )


def find_csv(root: Path, patterns, what: str) -> Path:
    """The CSV of `root` matching the first of `patterns` (globs, by preference) that any file matches; two files
    of one pattern stop, listing them. None: root/patterns[0] (whose reading says it is missing)."""
    for pattern in patterns:
        found = sorted(p for p in root.glob(pattern) if p.is_file())
        if len(found) > 1:
            raise DataError(f"{len(found)} {what}s in {root} ({show(p.name for p in found)}): keep one of them there")
        if found:
            return found[0]
    return root / patterns[0]


def with_images(table: pd.DataFrame, root: Path, csv_path: Path) -> pd.DataFrame:
    """`table` (image_id, index = the CSV's rows) with the `path` of each image, found anywhere below `root`;
    an image that is missing, not an image or cut off stops, naming the CSV's lines or the files."""
    paths = index_images(root, table["image_id"])
    absent = [f"line {i + 2} ({image_id})" for i, image_id in table["image_id"].items() if image_id not in paths]
    if absent:
        raise DataError(f"{len(absent)} image(s) listed in {csv_path} not found under {root}: {show(absent)}")
    table = table.assign(path=[paths[i] for i in table["image_id"]])
    check_images(table["path"])
    return table.reset_index(drop=True)
