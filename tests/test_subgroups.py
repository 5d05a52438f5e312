"""report/subgroups.csv: metrics by sex, age band, site, diagnosis confirmation and image source."""

import numpy as np
import pandas as pd
import pytest

from skinlight.metrics.bootstrap import Bootstrap
from skinlight.reports.subgroups import age_band, plotted_metrics, subgroup_table, write_subgroup_report

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def test_age_bands_and_unknown_ages():
    bands = age_band(pd.Series(["5", "29.9", "30", "59", "74", "75", "90", None, "n/a"]))
    assert bands.tolist() == ["0-29", "0-29", "30-44", "45-59", "60-74", "75+", "75+", "unknown", "unknown"]


def _rows(n: int = 240):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "image_id": [f"ISIC_{i:07d}" for i in range(n)],
            "lesion_id": [f"HAM_{i // 2:07d}" for i in range(n)],  # two images per lesion
            "sex": rng.choice(["male", "female", "unknown", None], n),
            "age": rng.choice(["35", "50", "80", None], n),
            "localization": rng.choice(["back", "face", ""], n),
        }
    )
    labels = np.arange(n) // 2 % 7
    preds = np.where(rng.random(n) < 0.7, labels, (labels + 1) % 7)
    return rows, np.eye(7)[preds], labels


def test_one_row_per_value_with_counts_and_intervals(tmp_path):
    rows, probs, labels = _rows()
    table = subgroup_table(rows, probs, labels, CLASSES, Bootstrap(resamples=200))
    assert table.attribute.unique().tolist() == ["all", "sex", "age_band", "site"]  # no dx_type, dataset columns
    assert table[table.attribute == "sex"].value.tolist() == ["female", "male", "unknown"]  # blank: unknown
    assert (table.groupby("attribute").images.sum() == len(rows)).all()
    male = table[(table.attribute == "sex") & (table.value == "male")].iloc[0]
    keep = (rows.sex == "male").to_numpy()
    assert male.acc == pytest.approx((probs.argmax(1) == labels)[keep].mean())
    assert male.lesions == rows.lesion_id[keep].nunique()
    assert (table.balanced_acc_ci_low <= table.balanced_acc).all() and (
        table.balanced_acc <= table.balanced_acc_ci_high
    ).all()
    assert plotted_metrics(table) == ["balanced_acc", "recall_mel"]
    write_subgroup_report(tmp_path, rows, probs, labels, CLASSES, Bootstrap(resamples=50))
    assert (tmp_path / "subgroups.png").read_bytes()[:4] == b"\x89PNG"
    assert pd.read_csv(tmp_path / "subgroups.csv").shape[0] == len(table)


def test_no_report_without_subgroup_columns(tmp_path):
    rows, probs, labels = _rows()
    assert (
        write_subgroup_report(tmp_path, rows[["image_id", "lesion_id"]], probs, labels, CLASSES, Bootstrap(10)) is None
    )
    assert not (tmp_path / "subgroups.csv").exists()
