"""What the readers of ISIC-archive downloads share (isic2019, isic2020, bcn20000; the one-hot decoding also
isic2018_task3): the site words, one-hot ground truths, finding the CSV (the generic helpers: files.py, images.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import show
from skinlight.errors import DataError

# The archive's anatom_site_general (ISIC 2019, BCN20000) and ISIC 2020's anatom_site_general_challenge
SITES = {
    **dict.fromkeys(("anterior torso", "posterior torso", "lateral torso", "torso"), "torso"),
    **{site: site for site in ("head/neck", "upper extremity", "lower extremity", "palms/soles", "oral/genital")},
}


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
