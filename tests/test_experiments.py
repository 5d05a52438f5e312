"""Every paper recipe (conf/experiment) runs at its real input size: fast_dev_run on tiny synthetic data."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf, open_dict

from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
# The experiment's own backbone, sizes and options; only data, speed and weights are set here.
SMALL = [
    "data=ham10000",
    "data.num_workers=0",
    "data.batch_size=4",
    "trainer.accelerator=cpu",
    "trainer.fast_dev_run=true",
    "backbone.pretrained=false",
    "logger=csv",
    "callbacks.progress_bar=null",
]


@pytest.fixture
def experiment_cfg(compose_cfg, synthetic_root):
    def _make(name: str, *overrides: str):
        return compose_cfg([f"experiment={name}", *SMALL, *overrides], synthetic_root)

    return _make


# Single runs; the sweeps (le2020_ablation, le2020_backbones, nguyen2022, albawi2022) run every
# job at its real size in test_multirun_recipes_at_real_size.
@pytest.mark.parametrize(
    "name, backbone, size, classes",
    [
        ("le2020_resnet50", "resnet50", 224, 7),
        ("albawi2022", "albawi_cnn", 224, 2),
        ("elgohary2024_cls", "deepconvnet", 28, 7),
        ("skinlight_cpu", "tf_efficientnet_lite0", 128, 7),
        ("skinlight_gpu", "tf_efficientnet_lite2", 320, 7),
        ("skinlight_ablation", "tf_efficientnet_lite0", 96, 7),
    ],
)
def test_experiment_runs_at_its_input_size(experiment_cfg, name, backbone, size, classes):
    cfg = experiment_cfg(name)
    assert (cfg.backbone.name, cfg.data.image_size) == (backbone, size)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0
    assert len([k for k in metrics if k.startswith("test/specificity_")]) == classes


def test_le2020_ablation_settings(experiment_cfg):
    full = experiment_cfg("le2020_ablation")
    assert (full.head.dropout, full.head.pool, full.loss.gamma, full.loss.alpha) == (0.5, "avg", 2.0, "balanced")
    assert len(full.augmentation.train) > 0
    changed = {
        "no_dropout": ("head.dropout", 0.0),
        "no_augmentation": ("augmentation.train", []),
        "no_class_weights": ("loss.alpha", None),
        "no_focal": ("loss.gamma", 0.0),
        "no_gap": ("head.pool", "flatten"),
    }
    for setting, (key, value) in changed.items():
        cfg = experiment_cfg("le2020_ablation", f"experiment/le2020_ablation@_global_={setting}")
        node, leaf = key.rsplit(".", 1)
        assert cfg[node][leaf] == value, setting


def cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True)


def _sweep(tmp_path, synthetic_root, name, *overrides) -> pd.DataFrame:
    small = [o for o in SMALL if not o.startswith("data.batch_size")] + ["data.batch_size=2"]
    out = cli("-m", f"experiment={name}", f"data.root={synthetic_root}", *small, *overrides, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = next((tmp_path / "multirun").glob("*/*"))
    assert (sweep / "summary.md").exists()
    return pd.read_csv(sweep / "summary.csv")


def test_le2020_ablation_is_one_multirun_with_six_rows(tmp_path, synthetic_root):
    """The sweep itself (here with a tiny backbone; the real one is in the slow test below)."""
    summary = _sweep(tmp_path, synthetic_root, "le2020_ablation", "backbone=timm_test", "data.image_size=64")
    assert summary["experiment/le2020_ablation@_global_"].tolist() == [
        "full",
        "no_dropout",
        "no_augmentation",
        "no_class_weights",
        "no_focal",
        "no_gap",
    ]
    assert (summary["status"] == "ok").all()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, jobs", [("le2020_ablation", 6), ("le2020_backbones", 4), ("nguyen2022_md", 8), ("albawi2022", 5)]
)
def test_multirun_recipes_at_real_size(tmp_path, synthetic_root, name, jobs):
    summary = _sweep(tmp_path, synthetic_root, name)
    assert len(summary) == jobs and (summary["status"] == "ok").all(), summary.to_string()


def test_skinlight_cpu_shows_every_training_option(compose_cfg, tmp_path):
    """`python train.py --cfg job experiment=skinlight_cpu` (the job config, composed here in-process) lists
    each option's key, on or off."""
    cfg = compose_cfg(["experiment=skinlight_cpu"], tmp_path)
    with open_dict(cfg):
        del cfg["hydra"]
    shown = OmegaConf.to_yaml(cfg)
    for key in (
        "_target_: skinlight.models.optim.WarmupCosine",  # warmup + cosine
        "_target_: skinlight.callbacks.EMA",  # EMA
        "mixup: {}",  # Mixup / CutMix: mixup=none
        "label_smoothing:",
        "backbone_scale:",  # backbone / head LR
        "layer_decay:",
        "freeze_backbone_epochs:",
        "drop_path_rate:",
        "accumulate_grad_batches:",
        "gradient_clip_val:",
        "augmentation:\n  train:\n  - _target_: albumentations.HorizontalFlip",  # flips (or randaugment, ...)
        "resize: squash",  # or pad, crop
        "preprocess:",
    ):
        assert key in shown, key


def test_skinlight_cpu_kfold_is_the_recipe_over_five_folds_on_a_shorter_schedule(experiment_cfg):
    cpu, kfold = experiment_cfg("skinlight_cpu"), experiment_cfg("skinlight_cpu_kfold")
    assert kfold.data.num_folds == 5 and kfold.hydra.sweeper.params["data.fold"] == "0,1,2,3,4"
    assert kfold.trainer.max_epochs < cpu.trainer.max_epochs
    assert kfold.model.scheduler == cpu.model.scheduler and kfold.data.split_seed == cpu.data.split_seed
