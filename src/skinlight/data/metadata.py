"""Patient metadata as a model input: age scaled on the train split, sex and site one-hot.

"unknown" is a category of its own (HAM10000 has it for sex and site) and a blank sex or site is
"unknown"; a blank age is set to the train mean and flagged in an extra column, so no row is
dropped. Anything else is refused, naming the table and the images: a missing column, an age that
is not a number or outside AGE_RANGE years, a sex or site outside the configured vocabulary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import show
from skinlight.errors import DataError

SEXES = ("male", "female", "unknown")
META_COLUMNS = ("age", "sex", "localization")  # the table columns the encoder reads
CONFIG_KEYS = {"sex": "data.meta_sexes", "localization": "data.meta_sites"}
AGE_RANGE = (0, 120)
SITES = (
    "abdomen",
    "acral",
    "back",
    "chest",
    "ear",
    "face",
    "foot",
    "genital",
    "hand",
    "lower extremity",
    "neck",
    "scalp",
    "trunk",
    "upper extremity",
    "unknown",
)


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
        return {
            "age_mean": self.age_mean,
            "age_std": self.age_std,
            "sexes": list(self.sexes),
            "sites": list(self.sites),
            "dim": self.dim,
        }

    @classmethod
    def from_state(cls, state: dict) -> MetadataEncoder:
        """The encoder a training run fitted (see state())."""
        encoder = cls(state["sexes"], state["sites"])
        encoder.age_mean, encoder.age_std = float(state["age_mean"]), float(state["age_std"])
        return encoder

    @staticmethod
    def _require_columns(df: pd.DataFrame, source: str) -> None:
        """The encoder's columns are in `df` (read from `source`, for the message)."""
        missing = [c for c in META_COLUMNS if c not in df.columns]
        if missing:
            raise DataError(
                f"{source} has no {', '.join(missing)} column(s), which patient metadata needs: add them, "
                "or train without metadata (data.use_metadata=false meta=none)"
            )

    def fit(self, train: pd.DataFrame, source: str = "the train split") -> MetadataEncoder:
        self._require_columns(train, source)
        ages = self._ages(train, source).dropna()
        if len(ages):
            self.age_mean = float(ages.mean())
            self.age_std = float(ages.std()) if len(ages) > 1 and ages.std() > 0 else 1.0
        return self

    @staticmethod
    def _ages(df: pd.DataFrame, source: str) -> pd.Series:
        """The age column as numbers (blank: NaN); a non-number or an age outside AGE_RANGE is an error."""
        age = pd.to_numeric(df["age"], errors="coerce")
        low, high = AGE_RANGE
        bad = (age.isna() & df["age"].notna()) | (age < low) | (age > high)
        if bad.any():
            ids = df["image_id"] if "image_id" in df.columns else df.index
            listed = show(f"{i}: {v!r}" for i, v in zip(ids[bad], df["age"][bad]))
            raise DataError(
                f"{source}: age must be a number of years in {low}..{high} or blank (unknown), got {listed}; "
                "fix those cells"
            )
        return age

    def _one_hot(self, values: pd.Series, vocabulary, column: str, source: str) -> np.ndarray:
        values = values.fillna("unknown").astype(str).str.strip().str.lower()
        unknown = sorted(set(values) - set(vocabulary))
        if unknown:
            raise DataError(
                f"{source}: {column} value(s) {unknown} are outside {CONFIG_KEYS[column]}="
                f"{list(vocabulary)}; add them to that list or fix those cells"
            )
        return (values.to_numpy()[:, None] == np.array(vocabulary)[None, :]).astype(np.float32)

    def transform(self, df: pd.DataFrame, source: str = "the image table") -> np.ndarray:
        self._require_columns(df, source)
        age = self._ages(df, source)
        scaled = ((age.fillna(self.age_mean) - self.age_mean) / self.age_std).to_numpy(np.float32)
        parts = [
            scaled[:, None],
            age.isna().to_numpy(np.float32)[:, None],
            self._one_hot(df["sex"], self.sexes, "sex", source),
            self._one_hot(df["localization"], self.sites, "localization", source),
        ]
        return np.concatenate(parts, axis=1)
