"""Temperature scaling (skinlight.inference.calibration) and the refusals of eval.py calibrate=true."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from test_eval import _compose
from test_isic2018_task3 import TASK3, tiny_checkpoint

from skinlight.errors import ConfigError
from skinlight.evaluation.evaluate import calibration_rows, evaluate
from skinlight.inference.calibration import apply_temperature, fit_temperature, nll
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with(true_temperature):
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(4000, 7, generator=generator)
    labels = torch.multinomial((logits / true_temperature).softmax(1), 1, generator=generator).squeeze(1)
    probs = logits.softmax(1)  # overconfident for T0 > 1, underconfident for T0 < 1
    temperature = fit_temperature(probs, labels)
    assert temperature == pytest.approx(true_temperature, rel=0.08)
    calibrated = apply_temperature(probs, temperature)
    assert nll(calibrated, labels) < nll(probs, labels) - 0.05
    assert torch.equal(calibrated.argmax(1), probs.argmax(1)) and torch.allclose(calibrated.sum(1), torch.ones(4000))
    assert torch.allclose(apply_temperature(probs, 1.0), probs, atol=1e-6)


def test_calibrate_refuses_data_without_val_images_and_split_val(tmp_path):
    root = tmp_path / "task3"
    generate_isic2018_task3(root, (14, 20), image_size=(120, 90))
    for folder in ("ISIC2018_Task3_Validation_Input", "ISIC2018_Task3_Validation_GroundTruth"):
        shutil.rmtree(root / folder)  # the test set only
    ckpt = tiny_checkpoint(tmp_path / "run" / "checkpoints" / "best.ckpt")
    common = [*TASK3, f"ckpt_path={ckpt}", "calibrate=true"]
    with pytest.raises(
        ConfigError, match=r"^calibrate=true fits the temperature on the val split, but the data has no"
    ):
        evaluate(_compose("eval", common, tmp_path / "a", root), tmp_path / "a")
    with pytest.raises(ConfigError, match=r"^calibrate=true fits the temperature on the val images: evaluate split"):
        evaluate(_compose("eval", [*common, "split=val"], tmp_path / "b", root), tmp_path / "b")


def test_calibrate_refuses_an_ensemble_whose_members_validate_on_other_images():
    def member(val_ids):
        table = pd.DataFrame({"image_id": ["t1", *val_ids], "split": ["test", *["val"] * len(val_ids)]})
        return SimpleNamespace(table=table, describe=lambda: "test: 1 images")

    first = calibration_rows(member(["a", "b"]), None, "fold0.ckpt")
    assert calibration_rows(member(["a", "b"]), first, "fold1.ckpt").image_id.tolist() == ["a", "b"]
    with pytest.raises(ConfigError, match=r"^calibrate=true: fold1.ckpt has other val images than the first member"):
        calibration_rows(member(["c", "d"]), first, "fold1.ckpt")
