"""The ISIC submission files without the official scorer: the Task 3 CSVs of eval.py and predict.py, and
predict_masks.py truth=... scoring (tests/test_official_scorer.py checks both against the official package)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from test_eval import _compose
from test_isic2018_task3 import TASK3, tiny_checkpoint

from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.data.layouts.isic2018_task3 import ONE_HOT
from skinlight.errors import DataError
from skinlight.evaluation.evaluate import evaluate
from skinlight.inference.classify import predict
from skinlight.inference.mask_scores import score_masks
from skinlight.inference.submission import GROUND_TRUTH, SUBMISSION, write_submission
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3


def test_submission_has_the_challenge_columns_and_full_precision_probabilities(tmp_path):
    classes = list(reversed(CLASSES))  # any order in a model: columns are mapped by name
    probs = torch.randn(9, 7).softmax(1).numpy()
    labels = np.arange(9) % 7
    ids = [f"ISIC_{i:07d}" for i in range(9)]
    path = write_submission(tmp_path, ids, probs, classes, labels)
    submission, truth = pd.read_csv(path), pd.read_csv(tmp_path / GROUND_TRUTH)
    assert path == tmp_path / SUBMISSION and submission.columns.tolist() == ["image", *ONE_HOT]
    assert submission.image.tolist() == ids and truth.image.tolist() == ids
    for column in ONE_HOT:  # each float32 exactly, as the float64 it is
        assert (submission[column].to_numpy() == probs[:, classes.index(column.lower())].astype(np.float64)).all()
        assert (truth[column].to_numpy() == (labels == classes.index(column.lower()))).all()
    assert np.allclose(submission[list(ONE_HOT)].sum(1), 1, atol=1e-6)
    assert (truth[list(ONE_HOT)].sum(1) == 1).all()


def test_no_submission_for_a_model_of_other_classes(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="skinlight.inference.submission"):
        assert write_submission(tmp_path, ["a", "b"], np.eye(2), ["benign", "malignant"], np.arange(2)) is None
        assert write_submission(tmp_path, ["a", "a"], np.eye(7)[:2], CLASSES) is None  # a/a.jpg and b/a.jpg: one id
    assert not list(tmp_path.iterdir())
    why = f"the model's classes ['benign', 'malignant'] are not HAM10000's {list(CLASSES)}"
    assert [r.getMessage() for r in caplog.records] == [
        f"no ISIC 2018 Task 3 submission: {why}",
        "no ISIC 2018 Task 3 submission: two images share a file name (the submission's image id)",
    ]


def test_predict_writes_the_submission_beside_its_csv(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "ckpt" / "best.ckpt")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(images / f"ISIC_{i:07d}.jpg")
    result = predict(str(ckpt), str(images), str(tmp_path / "out" / "predictions.csv"), device="cpu")
    submission = pd.read_csv(tmp_path / "out" / SUBMISSION)
    assert submission.image.tolist() == [f"ISIC_{i:07d}" for i in range(5)]
    assert np.allclose(submission[list(ONE_HOT)].to_numpy(), result[[c.lower() for c in ONE_HOT]].to_numpy())
    assert not (tmp_path / "out" / GROUND_TRUTH).exists()  # predict.py knows no labels


def test_eval_writes_the_submission_and_the_official_ground_truth(tmp_path):
    root = tmp_path / "task3"
    generate_isic2018_task3(root, (14, 14), image_size=(40, 30))
    ckpt = tiny_checkpoint(tmp_path / "run" / "checkpoints" / "best.ckpt")
    out = tmp_path / "eval"
    evaluate(_compose("eval", [*TASK3, f"ckpt_path={ckpt}", "split=test"], out, root), out)
    official = pd.read_csv(root / "ISIC2018_Task3_Test_GroundTruth" / "ISIC2018_Task3_Test_GroundTruth.csv")
    ours = pd.read_csv(out / GROUND_TRUTH).sort_values("image", ignore_index=True)
    pd.testing.assert_frame_equal(ours, official.sort_values("image", ignore_index=True))
    predictions, submission = pd.read_csv(out / "predictions.csv"), pd.read_csv(out / SUBMISSION)
    assert submission.image.tolist() == predictions.image_id.tolist()
    assert np.allclose(submission[list(ONE_HOT)].to_numpy(), predictions[[c.lower() for c in ONE_HOT]].to_numpy())


def _png(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def test_truth_scores_masks_at_their_size_binarised_above_128(tmp_path):
    """Two 10x10 masks: a: truth rows 0-3 (grey 129 counts, 128 does not), prediction rows 0-4 -> tp 40, fp 10;
    sub/b: nothing to find, nothing found -> every overlap score 1, distances 0. In a, the prediction's bottom edge
    (10 of its 26 edge pixels) lies 1 pixel from the truth's, whose bottom edge's 8 inner pixels (of 24) lie 1 from
    the prediction's: hd95 1, asd (10 + 8) / (26 + 24)."""
    output, truth = tmp_path / "run" / "masks", tmp_path / "truth"
    grey = np.zeros((10, 10))
    grey[:4], grey[4] = 129, 128
    prediction = np.zeros((10, 10))
    prediction[:5] = 255
    _png(output / "a_segmentation.png", prediction)
    _png(truth / "a_segmentation.png", grey)
    _png(output / "sub" / "b_segmentation.png", np.zeros((10, 10)))
    _png(truth / "sub" / "b_segmentation.png", np.zeros((10, 10)))
    (truth / "LICENSE.txt").write_text("ignored, as by the official scorer\n")
    written = [output / "a_segmentation.png", output / "sub" / "b_segmentation.png"]
    metrics = score_masks(written, output, truth)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert scores["mask"].tolist() == ["a_segmentation.png", "sub/b_segmentation.png"]
    assert scores.iou.tolist() == pytest.approx([0.8, 1.0]) and scores.specificity.tolist() == pytest.approx([5 / 6, 1])
    assert metrics["test/thresholded_jaccard"] == pytest.approx(0.9) and metrics["test/dice"] == pytest.approx(
        (80 / 90 + 1) / 2
    )
    assert metrics["test/pixel_acc"] == pytest.approx(0.95) and metrics["test/recall"] == 1.0
    assert scores.hd95.tolist() == pytest.approx([1.0, 0.0]) and scores.asd.tolist() == pytest.approx([18 / 50, 0])
    assert metrics["test/hd95"] == pytest.approx(0.5) and metrics["test/asd"] == pytest.approx(9 / 50)
    assert scores.empty_truth.tolist() == [0, 1] and metrics["test/empty_truths"] == 1
    assert metrics["test/empty_predictions"] == 1
    _png(truth / "c_segmentation.png", np.zeros((10, 10)))
    with pytest.raises(DataError, match=r"1 ground-truth mask\(s\) without an input image: .*c_segmentation.png"):
        score_masks(written, output, truth)
    (truth / "c_segmentation.png").unlink()
    _png(truth / "a_segmentation.png", np.zeros((10, 12)))
    with pytest.raises(DataError, match=r"a_segmentation.png is 12x10 but its image is 10x10"):
        score_masks(written, output, truth)
