"""Patient metadata as a model input: age scaled on the train split, sex and site one-hot.

"unknown" is a category of its own (HAM10000 has it for sex and site); a missing age is set to
the train mean and flagged in an extra column, so no row is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skinlight.errors import DataError

SEXES = ("male", "female", "unknown")
META_COLUMNS = ("age", "sex", "localization")  # the table columns the encoder reads
CONFIG_KEYS = {"sex": "data.meta_sexes", "localization": "data.meta_sites"}
SITES = ("abdomen", "acral", "back", "chest", "ear", "face", "foot", "genital", "hand",
         "lower extremity", "neck", "scalp", "trunk", "upper extremity", "unknown")


class MetadataEncoder:
    """Encodes age, sex and localization columns into a float vector per row."""

    def __init__(self, sexes=SEXES, sites=SITES):
        self.sexes, self.sites = tuple(sexes), tuple(sites)
        self.age_mean, self.age_std = 0.0, 1.0

    @property
    def dim(self) -> int:
        return 2 + len(self.sexes) + len(self.sites)

    @property
    def feature_names(self) -> list[str]:
        return ["age", "age_missing", *(f"sex_{s}" for s in self.sexes), *(f"site_{s}" for s in self.sites)]

    def state(self) -> dict:
        """The fitted encoding as plain values (stored in checkpoints): age mean/std, the vocabularies, the width."""
        return {"age_mean": self.age_mean, "age_std": self.age_std, "sexes": list(self.sexes), "sites": list(self.sites),
                "dim": self.dim}

    @classmethod
    def from_state(cls, state: dict) -> "MetadataEncoder":
        """The encoder a training run fitted (see state())."""
        encoder = cls(state["sexes"], state["sites"])
        encoder.age_mean, encoder.age_std = float(state["age_mean"]), float(state["age_std"])
        return encoder

    def fit(self, train: pd.DataFrame) -> "MetadataEncoder":
        ages = pd.to_numeric(train["age"], errors="coerce").dropna()
        if len(ages):
            self.age_mean = float(ages.mean())
            self.age_std = float(ages.std()) if len(ages) > 1 and ages.std() > 0 else 1.0
        return self

    def _one_hot(self, values: pd.Series, vocabulary, column: str) -> np.ndarray:
        values = values.fillna("unknown").astype(str).str.strip().str.lower()
        unknown = sorted(set(values) - set(vocabulary))
        if unknown:
            raise DataError(f"metadata column {column!r} has value(s) {unknown} outside {CONFIG_KEYS[column]}="
                            f"{list(vocabulary)}; add them to that list")
        return (values.to_numpy()[:, None] == np.array(vocabulary)[None, :]).astype(np.float32)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in META_COLUMNS if c not in df.columns]
        if missing:
            raise DataError(f"metadata column(s) {missing} not in the CSV; use data.use_metadata=false")
        age = pd.to_numeric(df["age"], errors="coerce")
        scaled = ((age.fillna(self.age_mean) - self.age_mean) / self.age_std).to_numpy(np.float32)
        parts = [scaled[:, None], age.isna().to_numpy(np.float32)[:, None],
                 self._one_hot(df["sex"], self.sexes, "sex"), self._one_hot(df["localization"], self.sites, "localization")]
        return np.concatenate(parts, axis=1)
