import numpy as np
import pandas as pd
import pytest

from skinlight.data.splits import assign_splits
from skinlight.errors import DataError

CLASSES = ["a", "b", "c"]


def table(lesions_per_class=(30, 12, 6), seed=0) -> pd.DataFrame:
    """Lesions with 1-3 images each, like HAM10000."""
    rng, rows = np.random.default_rng(seed), []
    for label, n in enumerate(lesions_per_class):
        for j in range(n):
            for k in range(rng.integers(1, 4)):
                rows.append({"image_id": f"img_{label}_{j}_{k}", "lesion_id": f"les_{label}_{j}", "label": label})
    return pd.DataFrame(rows)


def test_holdout_is_grouped_stratified_and_reproducible():
    df = table()
    split = assign_splits(df, CLASSES, test_fraction=0.2, val_fraction=0.2, seed=1)
    assert (split.groupby("lesion_id")["split"].nunique() == 1).all(), "a lesion in two splits"
    for name in ("train", "val", "test"):
        assert set(split.loc[split["split"] == name, "label"]) == {0, 1, 2}, name
    lesions = split.drop_duplicates("lesion_id")
    assert (lesions["split"] == "test").sum() == round(0.2 * 30) + round(0.2 * 12) + round(0.2 * 6)
    pd.testing.assert_frame_equal(split, assign_splits(df, CLASSES, seed=1))
    assert not split["split"].equals(assign_splits(df, CLASSES, seed=2)["split"])


def test_kfold_shares_the_test_set_and_partitions_the_rest():
    df = table()
    folds = [assign_splits(df, CLASSES, num_folds=3, fold=k, seed=0) for k in range(3)]
    tests = [set(f.loc[f["split"] == "test", "lesion_id"]) for f in folds]
    assert tests[0] == tests[1] == tests[2]
    vals = [set(f.loc[f["split"] == "val", "lesion_id"]) for f in folds]
    assert not (vals[0] & vals[1]) and not (vals[1] & vals[2])
    assert set.union(*vals) == set(df["lesion_id"]) - tests[0]
    for k, f in enumerate(folds):
        assert (f.loc[f["split"] == "val", "fold"] == k).all()
        assert set(f.loc[f["split"] == "val", "label"]) == {0, 1, 2}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_fraction": 1.5}, "data.test_fraction"),
        ({"num_folds": 1}, "data.num_folds"),
        ({"num_folds": 3, "fold": 3}, "data.fold"),
        ({"num_folds": 8}, "too few for data.num_folds=8"),
    ],
)
def test_bad_split_settings(kwargs, message):
    with pytest.raises(DataError, match=message):
        assign_splits(table(), CLASSES, **kwargs)


def test_class_with_one_lesion_is_refused():
    with pytest.raises(DataError, match="class 'c' has 1 lesion"):
        assign_splits(table((10, 10, 1)), CLASSES)


def test_lesion_with_two_labels_is_refused():
    df = table()
    df.loc[0, "label"] = 2
    with pytest.raises(DataError, match="different classes"):
        assign_splits(df, CLASSES)
