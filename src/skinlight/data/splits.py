"""Lesion-grouped, class-stratified splits: a holdout test set, then train/val or k folds.

All images of one lesion land in the same split (several images of a lesion in two splits
leak). Lesions are shuffled per class with a seeded generator, so the split is stratified by
class at lesion level and the same seed always gives the same split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skinlight.errors import DataError


def _lesion_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per lesion with its label; a lesion with two labels is an error."""
    labels = df.groupby("lesion_id")["label"].nunique()
    mixed = labels.index[labels > 1]
    if len(mixed):
        raise DataError(f"lesion_id with images of different classes: {', '.join(map(str, mixed[:5]))}")
    return df.groupby("lesion_id", sort=True)["label"].first().reset_index()


def _take(lesions: pd.DataFrame, fraction: float, rng: np.random.Generator, what: str, class_names) -> set:
    """Pick about `fraction` of each class's lesions (at least one, never all)."""
    chosen = set()
    for label, group in lesions.groupby("label", sort=True):
        ids = group["lesion_id"].to_numpy()
        if len(ids) < 2:
            raise DataError(f"class {class_names[label]!r} has {len(ids)} lesion(s): too few for a {what} split")
        n = min(max(1, round(fraction * len(ids))), len(ids) - 1)
        chosen.update(rng.permutation(ids)[:n])
    return chosen


def assign_splits(
    df: pd.DataFrame,
    class_names,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    num_folds: int = 0,
    fold: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Add `split` (train/val/test) and `fold` columns to an image table with lesion_id and label.

    Holdout: `test_fraction` of the lesions of each class go to test, then `val_fraction` of the
    remainder to val. k-fold (num_folds >= 2): the same test set; the remaining lesions of each
    class are dealt round-robin into `num_folds` folds; fold `fold` is val, the others train.
    A table that already has a `split` column with "test" rows (a dataset that ships its own
    test set) keeps those as the test split; `test_fraction` is then unused.
    """
    given_test = df["split"].eq("test") if "split" in df.columns else pd.Series(False, index=df.index)
    if not given_test.any() and not 0 < test_fraction < 1:
        raise DataError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    if num_folds == 1 or num_folds < 0:
        raise DataError(f"data.num_folds must be 0 (holdout) or >= 2, got {num_folds}")
    if num_folds and not 0 <= fold < num_folds:
        raise DataError(f"data.fold must be in 0..{num_folds - 1}, got {fold}")
    if not num_folds and not 0 < val_fraction < 1:
        raise DataError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    lesions = _lesion_table(df)
    if given_test.any():
        test = set(df.loc[given_test, "lesion_id"])
    else:
        test = _take(lesions, test_fraction, rng, "test", class_names)
    rest = lesions[~lesions["lesion_id"].isin(test)]
    lesion_fold = {}
    if num_folds:
        for label, group in rest.groupby("label", sort=True):
            ids = rng.permutation(group["lesion_id"].to_numpy())
            if len(ids) < num_folds:
                raise DataError(
                    f"class {class_names[label]!r} has {len(ids)} non-test lesion(s): "
                    f"too few for data.num_folds={num_folds}"
                )
            lesion_fold.update({lesion: i % num_folds for i, lesion in enumerate(ids)})
        val = {lesion for lesion, f in lesion_fold.items() if f == fold}
    else:
        val = _take(rest, val_fraction, rng, "validation", class_names)
    out = df.copy()
    out["split"] = np.where(out["lesion_id"].isin(test), "test", np.where(out["lesion_id"].isin(val), "val", "train"))
    out["fold"] = out["lesion_id"].map(lesion_fold).astype("Int64")
    return out
