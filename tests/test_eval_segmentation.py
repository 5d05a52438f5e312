"""eval.py on segmentation checkpoints: the table (members, ensemble, + TTA, + post-processing), equal to the
training test step with the same options, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_eval import _compose

from skinlight.errors import ConfigError
from skinlight.evaluation.evaluate import evaluate
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
SEG = [
    "model=unet",
    "model.net.encoder_name=resnet18",
    "model.net.pretrained=false",
    "data=ham10000_seg",
    "data.num_workers=0",
    "data.image_size=32",
    "data.batch_size=16",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
    "logger=csv",
]
SCORES = ("thresholded_jaccard", "dice", "iou", "hd95", "asd", "recall", "specificity", "empty_predictions")


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory, synthetic_root) -> Path:
    """A U-Net trained 2 epochs on the synthetic HAM10000's masks, tested with tta=flips, postprocess=largest_filled."""
    run_dir = tmp_path_factory.mktemp("seg_run")
    overrides = [*SEG, "trainer.max_epochs=2", "model.tune_threshold=true", "tta=flips", "postprocess=largest_filled"]
    run(_compose("train", overrides, run_dir, synthetic_root), run_dir)
    return run_dir


def _eval(out: Path, root: Path, *overrides: str) -> tuple[pd.DataFrame, dict]:
    cfg = _compose("eval", ["data.num_workers=0", *overrides], out, root)
    return evaluate(cfg, out), json.loads((out / "metrics.json").read_text())


def test_eval_of_a_segmenter_reproduces_its_training_test_step(seg_run, synthetic_root, tmp_path):
    best = seg_run / "checkpoints" / "best.ckpt"
    table, metrics = _eval(tmp_path, synthetic_root, f"ckpt_path={best}", "tta=flips", "postprocess=largest_filled")
    name = seg_run.name
    assert table["model"].tolist() == [name, f"{name} + TTA (flips)", f"{name} + TTA (flips) + largest_filled"]
    assert list(table.columns) == ["model", *SCORES]
    trained = json.loads((seg_run / "metrics.json").read_text())
    for key in ("dice", "iou", "thresholded_jaccard", "hd95", "asd", "empty_predictions"):
        assert metrics[f"test/{key}"] == pytest.approx(trained[f"test/{key}"], abs=1e-6), key
        assert table.iloc[-1][key] == pytest.approx(trained[f"test/{key}"], abs=1e-6)
    assert metrics["test/dice_ci_low"] <= metrics["test/dice"] <= metrics["test/dice_ci_high"]
    per_image = pd.read_csv(tmp_path / "report" / "per_image.csv")
    trained_per_image = pd.read_csv(seg_run / "report" / "per_image.csv")
    assert per_image["image_id"].tolist() == trained_per_image["image_id"].tolist()
    assert per_image["hd95"].to_numpy() == pytest.approx(trained_per_image["hd95"].to_numpy(), abs=1e-5)


def test_ensemble_of_segmenters_gives_member_ensemble_and_tta_rows(seg_run, synthetic_root, tmp_path):
    ckpts = f"ensemble=[{seg_run / 'checkpoints' / 'best.ckpt'},{seg_run / 'checkpoints' / 'last.ckpt'}]"
    table, metrics = _eval(tmp_path, synthetic_root, ckpts, "tta=d4")
    name = seg_run.name
    assert table["model"].tolist() == [f"{name}/best", f"{name}/last", "ensemble", "ensemble + TTA (d4)"]
    assert ((table[["dice", "iou", "thresholded_jaccard"]] >= 0) & (table[["dice", "iou"]] <= 1)).all().all()
    assert metrics["test/dice"] == pytest.approx(table.iloc[-1]["dice"])


def test_eval_cli_prints_the_segmentation_table(seg_run, synthetic_root, tmp_path):
    """The acceptance command: eval.py ckpt_path=<segmenter> data=ham10000_seg data.root=... tta=d4 postprocess=..."""
    command = [
        sys.executable,
        "eval.py",
        f"ckpt_path={seg_run / 'checkpoints' / 'best.ckpt'}",
        "data=ham10000_seg",
        f"data.root={synthetic_root}",
        "data.num_workers=0",
        "tta=d4",
        "postprocess=largest_filled",
        f"hydra.run.dir={tmp_path / 'eval'}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(seg_run.name)]
    assert [" ".join(r[: -len(SCORES)]) for r in rows] == [
        seg_run.name,
        f"{seg_run.name} + TTA (d4)",
        f"{seg_run.name} + TTA (d4) + largest_filled",
    ]
    assert (tmp_path / "eval" / "table.md").read_text().count("|") > 20


@pytest.mark.parametrize(
    "options, message",
    [
        (["calibrate=true"], "calibrate=true scales class probabilities"),
        (["combine=geometric"], r"combine=geometric: a segmentation ensemble averages"),
        (["tta=multicrop"], "tta.crops is for classification"),
    ],
)
def test_eval_refuses_classification_options_for_a_segmenter(seg_run, synthetic_root, tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        _eval(tmp_path, synthetic_root, f"ckpt_path={seg_run / 'checkpoints' / 'best.ckpt'}", *options)
