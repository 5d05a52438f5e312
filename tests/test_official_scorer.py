"""The official ISIC scorer (PyPI isic-challenge-scoring 5.6.0) as the oracle of skinlight's metrics.

It needs pandas<3, so it lives in its own virtual environment, named by ISIC_SCORING (skipped without):

    python3 -m venv /tmp/isic && /tmp/isic/bin/pip install "isic-challenge-scoring==5.6.0" "pandas<3"
    ISIC_SCORING=/tmp/isic/bin/isic-challenge-scoring pytest -n 0 -m official_scorer tests/test_official_scorer.py -s

Task 3: a classifier trained briefly on synthetic HAM10000, eval.py on a synthetic ISIC 2018 Task 3 copy; its
isic2018_task3_submission.csv scored against the copy's official ground truth and against eval.py's own.
Task 1: a U-Net trained briefly on synthetic ISIC 2018 Task 1, predict_masks.py truth=... on the test images;
the masks scored against the ground-truth folder. Every number must equal metrics.json's to 1e-6 (-s prints them).
"""

from __future__ import annotations

import json
import os
import subprocess

import pandas as pd
import pytest
from conftest import FAST
from tabulate import tabulate
from test_bad_input import quoted, run_cli
from test_eval import _compose
from test_isic2018_task3 import TASK3
from test_segmentation_train import FAST as SEG_FAST

from skinlight.data.layouts.isic2018_task3 import ONE_HOT
from skinlight.evaluation.evaluate import evaluate
from skinlight.inference.submission import GROUND_TRUTH, SUBMISSION
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3
from skinlight.synthetic.segmentation import generate_isic2018
from skinlight.train import run

SCORER = os.environ.get("ISIC_SCORING")
pytestmark = [
    pytest.mark.official_scorer,
    pytest.mark.skipif(
        not SCORER,
        reason="set ISIC_SCORING to the isic-challenge-scoring executable of a venv with "
        '"isic-challenge-scoring==5.6.0" "pandas<3" (see this file\'s docstring)',
    ),
]
TOLERANCE = 1e-6
# official segmentation key -> skinlight's metrics.json key
TASK1 = {
    "threshold_jaccard": "test/thresholded_jaccard",
    "jaccard": "test/iou",
    "dice": "test/dice",
    "sensitivity": "test/recall",
    "specificity": "test/specificity",
    "accuracy": "test/pixel_acc",
}


def official(*args) -> dict:
    """`isic-challenge-scoring -o json <args>`, parsed."""
    done = subprocess.run([SCORER, "-o", "json", *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def agree(capsys, title: str, rows: list[tuple[str, float, float]]) -> None:
    """Print the agreement table (uncaptured), then assert every row agrees."""
    table = [(name, ours, theirs, abs(ours - theirs)) for name, ours, theirs in rows]
    with capsys.disabled():
        print(f"\n{title}\n" + tabulate(table, headers=("metric", "skinlight", "official", "|diff|"), floatfmt=".9f"))
    assert max(diff for *_, diff in table) <= TOLERANCE


def test_task3_submission_scores_as_eval_py(synthetic_root, tmp_path, capsys):
    run_dir = tmp_path / "train"
    fast = [*FAST, "trainer.max_epochs=8", "optimizer.lr=1e-2", "loss=weighted_ce"]  # confident, not one class
    run(_compose("train", fast, run_dir, synthetic_root), run_dir)
    root = tmp_path / "task3"
    generate_isic2018_task3(root, (14, 20), image_size=(120, 90))
    out = tmp_path / "eval"
    evaluate(_compose("eval", [*TASK3, f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"], out, root), out)
    metrics = json.loads((out / "metrics.json").read_text())
    probs = pd.read_csv(out / SUBMISSION)[list(ONE_HOT)]
    assert (probs.max(1) > 0.5).mean() >= 0.25 and probs.max(1).std() > 0.05, "a near-uniform model checks little"
    sensitivities = [metrics[f"test/ovr_sensitivity_{c.lower()}"] for c in ONE_HOT]
    assert 0 < sum(sensitivities) < len(ONE_HOT), "some class found above 0.5, not every one"
    for truth in (root / "ISIC2018_Task3_Test_GroundTruth" / "ISIC2018_Task3_Test_GroundTruth.csv", out / GROUND_TRUTH):
        score = official("classification", truth, out / SUBMISSION)
        per_category = score["per_category"]
        rows = [("balanced_accuracy", metrics["test/balanced_acc"], score["aggregate"]["balanced_accuracy"])]
        for name, key in (("auc", "auroc"), ("sensitivity", "ovr_sensitivity"), ("specificity", "ovr_specificity")):
            rows += [(f"{name} {c}", metrics[f"test/{key}_{c.lower()}"], per_category[name][c]) for c in ONE_HOT]
        agree(capsys, f"ISIC 2018 Task 3, {len(probs)} images, truth {truth.name}:", rows)


def test_task1_masks_score_as_predict_masks_py(tmp_path, capsys):
    root = tmp_path / "isic2018"
    generate_isic2018(root, (24, 4, 16), seed=3, image_size=(96, 72), workers=1)
    run_dir = tmp_path / "train"
    unet = ["model=unet_elgohary", "model.net.base_channels=8", "loss=bce_dice", "optimizer.lr=2e-3"]  # a tiny U-Net
    run(_compose("train", [*unet, *SEG_FAST, "data.batch_size=4", "trainer.max_epochs=6"], run_dir, root), run_dir)
    truth, predicted = root / "ISIC2018_Task1_Test_GroundTruth", tmp_path / "predict"
    code, err = run_cli(
        "predict_masks.py",
        [
            quoted("ckpt_path", run_dir / "checkpoints" / "best.ckpt"),
            quoted("input", root / "ISIC2018_Task1-2_Test_Input"),
            quoted("truth", truth),
            quoted("hydra.run.dir", predicted),
            "device=cpu",
        ],
        capsys,
    )
    assert code == 0, err
    metrics = json.loads((predicted / "metrics.json").read_text())
    iou = pd.read_csv(predicted / "scores.csv").iou
    assert 0 < (iou >= 0.65).mean() < 1 and (iou > 0).all() and (iou < 1).all(), "the threshold must matter"
    score = official("segmentation", truth, predicted / "masks")["macro_average"]
    agree(
        capsys,
        f"ISIC 2018 Task 1, {len(iou)} masks at the images' size (96x72; the U-Net runs at 32 px):",
        [(name, metrics[key], score[name]) for name, key in TASK1.items()],
    )
