"""Sweep summaries and the trivial baselines, on hand-made run directories."""

import json

import pandas as pd
import pytest
import yaml
from conftest import user_error

from skinlight.data.classification import HAM10000DataModule
from skinlight.errors import DataError
from skinlight.evaluation import baselines
from skinlight.evaluation.summary import main, summarize


def _job(sweep, num, overrides, metrics=None):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps({f"test/{k}": v for k, v in metrics.items()}))


def test_summary_has_varying_overrides_metrics_and_failed_jobs(tmp_path):
    common = ["backbone.pretrained=false", "trainer.max_epochs=3"]
    _job(tmp_path, 0, ["backbone=mobilenetv3", "loss=ce", *common], {"balanced_acc": 0.5, "acc": 0.8})
    _job(tmp_path, 1, ["backbone=mobilenetv3", "loss=focal", *common], {"balanced_acc": 0.6, "acc": 0.7})
    _job(tmp_path, 10, ["backbone=densenet201", "loss=ce", *common])  # crashed: no metrics.json
    table = summarize(tmp_path)
    assert table.columns.tolist() == ["job", "backbone", "loss", "status", "balanced_acc", "acc"]
    assert table["job"].tolist() == ["0", "1", "10"]  # numeric order, not "0, 1, 10" by accident of text
    assert table["status"].tolist() == ["ok", "ok", "no metrics"]
    on_disk = pd.read_csv(tmp_path / "summary.csv")
    assert on_disk["balanced_acc"].tolist()[:2] == [0.5, 0.6]
    assert "| densenet201 | ce     | no metrics" in (tmp_path / "summary.md").read_text()


def test_baselines_on_a_run_directory(tmp_path, synthetic_root, capsys):
    dm = HAM10000DataModule(str(synthetic_root), use_metadata=False)
    dm.setup()
    dm.write_split(tmp_path / "split.csv")
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"data": {"root": str(synthetic_root)}}))
    baselines.main([str(tmp_path)])
    saved = json.loads((tmp_path / "report" / "baselines.json").read_text())
    test = dm.table[dm.table.split == "test"]
    share = (test.label == dm.table[dm.table.split == "train"].label.mode()[0]).mean()
    assert saved["majority_class"] == {"balanced_acc": pytest.approx(1 / 7), "acc": pytest.approx(share)}
    assert 0 <= saved["mean_rgb_logreg"]["balanced_acc"] <= 1
    assert "mean_rgb_logreg" in capsys.readouterr().out


def test_baselines_refuse_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(DataError, match="split.csv not found: .* is not a finished training run directory"):
        baselines.run_baselines(tmp_path)


def test_summary_per_class_columns(tmp_path, capsys):
    """--per-class recall,f1: one column per class and metric, as the papers' per-class tables."""
    per_class = {"recall_mel": 0.4, "recall_nv": 0.9, "recall_macro": 0.65}
    per_class.update({"f1_mel": 0.3, "f1_nv": 0.8, "f1_macro": 0.55})
    _job(tmp_path, 0, ["loss=ce"], {"balanced_acc": 0.65, **per_class})
    _job(tmp_path, 1, ["loss=focal"], {"balanced_acc": 0.7, **{k: v + 0.05 for k, v in per_class.items()}})
    main([str(tmp_path), "--per-class", "recall,f1"])
    table = pd.read_csv(tmp_path / "summary.csv")
    classwise = ["recall_mel", "recall_nv", "f1_mel", "f1_nv"]  # the macro averages stay in their own columns
    assert table.columns.tolist() == ["job", "loss", "status", "balanced_acc", "recall_macro", "f1_macro", *classwise]
    assert table["recall_mel"].tolist() == pytest.approx([0.4, 0.45]) and "recall_mel |" in capsys.readouterr().out
    assert "choose among" in user_error(capsys, main, [str(tmp_path), "--per-class", "sensitivity"])


def test_summary_shows_intervals_and_the_spread_over_seeds(tmp_path):
    """Jobs that differ only by seed are repeats: mean +- standard deviation; single runs show their interval."""
    scores = {("ce", 1): 0.50, ("ce", 2): 0.56, ("ce", 3): 0.53, ("focal", 1): 0.61}
    for num, ((loss, seed), score) in enumerate(scores.items()):
        intervals = {
            "balanced_acc_ci_low": score - 0.04,
            "balanced_acc_ci_high": score + 0.05,
            "recall_mel_ci_low": 0.1,
        }
        _job(tmp_path, num, [f"loss={loss}", f"seed={seed}"], {"balanced_acc": score, "recall_mel": 0.3, **intervals})
    table = summarize(tmp_path, per_class=["recall"])
    assert table.columns.tolist() == [
        "job",
        "loss",
        "seed",
        "status",
        "balanced_acc",
        "balanced_acc_ci_low",
        "balanced_acc_ci_high",
        "recall_mel",
    ]  # an interval end is no per-class column
    markdown = (tmp_path / "summary.md").read_text()
    assert "| 0.6100 [0.5700, 0.6600] |" in markdown
    repeats = pd.read_csv(tmp_path / "summary_repeats.csv")
    assert repeats.loss.tolist() == ["ce"] and repeats.jobs.tolist() == [3] and repeats.repeats[0] == "seed=1/2/3"
    assert repeats.balanced_acc_mean[0] == pytest.approx(0.53) and repeats.balanced_acc_std[0] == pytest.approx(0.03)
    assert "| ce     |      3 | seed=1/2/3 | 0.5300 +- 0.0300 |" in markdown
