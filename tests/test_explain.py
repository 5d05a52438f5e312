"""explain.py: Grad-CAM on the head's feature map, soft-attention maps, the case choice, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from test_eval import EVAL_DATA, _compose, segmentation_checkpoint
from test_isic2018_task3 import tiny_checkpoint

from skinlight.errors import CheckpointError, ConfigError
from skinlight.evaluation.explain import attention_maps, choose_cases, explain, grad_cams
from skinlight.inference.ensemble import load_classifier
from skinlight.models.heads import SoftAttentionHead

REPO = Path(__file__).resolve().parents[1]


def test_choose_cases_takes_confident_mistakes_and_correct_ones_of_every_class():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    probs = torch.tensor(
        [
            [0.9, 0.1, 0],
            [0.6, 0.4, 0],
            [0.2, 0.8, 0],
            [0, 0.3, 0.7],  # 0, 1, 2 right; 3 wrong (0.7)
            [0.1, 0, 0.9],
            [0.95, 0, 0.05],
            [0.2, 0.7, 0.1],
            [0.5, 0.4, 0.1],
        ]
    )  # 4 right; 5, 6, 7 wrong
    assert choose_cases(probs, labels, 4) == [5, 3, 0, 2]  # 2 mistakes by confidence, then classes 0 and 1
    assert choose_cases(probs, labels, 6) == [5, 3, 6, 0, 2, 4]
    assert sorted(choose_cases(probs, labels, 20)) == list(range(8))  # fewer images than n: all of them
    assert choose_cases(probs[:3], labels[:3], 2) == [0, 2]  # no mistakes: correct ones only


def test_grad_cam_is_computed_on_the_feature_map_the_head_reads(tmp_path):
    model = load_classifier(tiny_checkpoint(tmp_path / "m.ckpt")).eval()
    images = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))  # a 4 x 4 feature map
    cams = grad_cams(model, images, None, [3, 5])
    for k, target in enumerate((3, 5)):  # the Grad-CAM formula by hand: ReLU(sum_c mean(dy/dA_c) A_c)
        fmap = model.feature_map(images[k : k + 1]).detach().requires_grad_(True)
        model.classifier(model.head(fmap))[0, target].backward()
        cam = torch.relu((fmap.grad.mean((2, 3), keepdim=True) * fmap).sum(1))[0].detach().numpy()
        cam = cv2.resize(cam, (128, 128))  # upsampled, then scaled to [0, 1]
        cam = (cam - cam.min()) / (cam.max() - cam.min())
        assert cams[k].std() > 0.05 and np.abs(cams[k] - cam).max() < 1e-3
    assert type(model.head).__name__ == "LinearHead"  # the head is given back after the CAM


def test_explain_writes_the_grid_and_cases(tmp_path, synthetic_root):
    ckpt = tiny_checkpoint(tmp_path / "linear.ckpt")
    cases = explain(
        _compose("explain", [*EVAL_DATA, f"ckpt_path={ckpt}", "n=6"], tmp_path / "a", synthetic_root), tmp_path / "a"
    )
    assert len(cases) == 6 and pd.read_csv(tmp_path / "a" / "cases.csv").correct.tolist() == cases.correct.tolist()
    assert (cases.correct == (cases.label == cases.prediction)).all()
    linear_width = Image.open(tmp_path / "a" / "gradcam.png").width
    ckpt = tiny_checkpoint(tmp_path / "attention.ckpt", head="soft_attention")
    explain(
        _compose(
            "explain",
            [*EVAL_DATA, f"ckpt_path={ckpt}", "n=6", "method=GradCAMPlusPlus"],
            tmp_path / "b",
            synthetic_root,
        ),
        tmp_path / "b",
    )
    assert Image.open(tmp_path / "b" / "gradcam.png").width > 1.5 * linear_width  # a second panel per image


def test_attention_maps_are_the_heads_maps_summed_and_upsampled(tmp_path):
    model = load_classifier(tiny_checkpoint(tmp_path / "m.ckpt", head="soft_attention")).eval()
    assert isinstance(model.head, SoftAttentionHead)
    images = torch.randn(2, 3, 32, 32)
    heat = attention_maps(model, images, None)
    summed = model.head.last_maps.sum(1, keepdim=True)
    expected = torch.nn.functional.interpolate(summed, (32, 32), mode="bilinear")[:, 0]
    assert heat.shape == (2, 32, 32) and np.allclose(heat, expected / expected.flatten(1).amax(1)[:, None, None])
    assert attention_maps(load_classifier(tiny_checkpoint(tmp_path / "l.ckpt")), images, None) is None


def test_explain_refuses_bad_input(tmp_path, synthetic_root):
    def run(*overrides):
        return explain(_compose("explain", [*EVAL_DATA, *overrides], tmp_path, synthetic_root), tmp_path)

    with pytest.raises(CheckpointError, match="checkpoint not found: .*nowhere.ckpt"):
        run(f"ckpt_path={tmp_path / 'nowhere.ckpt'}")
    with pytest.raises(CheckpointError, match="seg.ckpt is a segmentation checkpoint"):
        run(f"ckpt_path={segmentation_checkpoint(tmp_path / 'seg.ckpt')}")
    ckpt = tiny_checkpoint(tmp_path / "m.ckpt")
    with pytest.raises(ConfigError, match="n=0: give the number of images"):
        run(f"ckpt_path={ckpt}", "n=0")
    with pytest.raises(ConfigError, match="method='GradCam': choose one of .*GradCAMPlusPlus"):
        run(f"ckpt_path={ckpt}", "n=2", "method=GradCam")


@pytest.mark.slow  # a fresh interpreter: ~10 s on an idle machine, half a minute on a busy one
def test_explain_cli_reports_a_missing_checkpoint_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "explain.py", f"ckpt_path={tmp_path / 'no.ckpt'}", f"hydra.run.dir={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        result.returncode == 2
        and result.stderr.strip().splitlines()[-1] == f"error: checkpoint not found: {tmp_path / 'no.ckpt'}"
    )
