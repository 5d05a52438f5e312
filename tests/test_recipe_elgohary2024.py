"""Elgohary et al. 2024 (docs/recipes/elgohary2024.md): DeepConvNet's twelve layers, their Table 4 counts
after duplication, and each recipe at its real input size (fast_dev_run on synthetic data)."""

import subprocess
import sys
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pandas as pd
import pytest
import timm
import torch
from conftest import RECIPE_RUN
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from skinlight.data.protocol import Protocol
from skinlight.models.segmenter import Segmenter
from skinlight.synthetic.segmentation import generate_ph2
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
HAM10000_COUNTS = {"akiec": 327, "bcc": 514, "bkl": 1099, "df": 115, "mel": 1113, "nv": 6705, "vasc": 142}
# Table 4, "Counts + (Counts*factor) + Counts"; nv is not duplicated. Sum: "from 10,015 to 45,756".
TABLE_4 = {"mel": 6678, "bkl": 6594, "bcc": 6682, "akiec": 6213, "vasc": 6674, "df": 6210, "nv": 6705}
SMALL = RECIPE_RUN


def test_deepconvnet_is_the_twelve_layers_of_sec_2_4():
    """Keras-style rows (an activation belongs to its layer): output shape at 28 px and parameters."""
    with torch.device("meta"):
        net = timm.create_model("deepconvnet", num_classes=7)
        x, rows = torch.empty(1, 3, 28, 28), []
        for layer in [*net.trunk, net.fc]:
            x = layer(x)
            if not isinstance(layer, nn.ReLU):
                rows.append((type(layer).__name__, tuple(x.shape[1:]), sum(p.numel() for p in layer.parameters())))
    assert rows == [
        ("Conv2d", (16, 28, 28), 448),
        ("MaxPool2d", (16, 14, 14), 0),
        ("Conv2d", (32, 14, 14), 4640),
        ("MaxPool2d", (32, 7, 7), 0),
        ("Conv2d", (64, 7, 7), 18496),
        ("MaxPool2d", (64, 3, 3), 0),
        ("Conv2d", (128, 3, 3), 73856),
        ("MaxPool2d", (128, 1, 1), 0),
        ("Flatten", (128,), 0),
        ("Linear", (64,), 8256),
        ("Linear", (32,), 2080),
        ("Linear", (7,), 231),
    ]
    assert sum(p.numel() for p in net.parameters()) == 108_007


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _real_labels() -> np.ndarray:
    return np.repeat(np.arange(len(HAM10000_COUNTS)), list(HAM10000_COUNTS.values()))


def test_duplication_gives_table_4_on_the_real_class_counts():
    """sampler=duplicate over HAM10000's 10,015 labels draws Table 4's counts per epoch."""
    classes, labels = list(HAM10000_COUNTS), _real_labels()
    sampler = instantiate(_compose("experiment=elgohary2024_cls", "data.root=unused").sampler)(labels, classes)
    drawn = np.bincount(labels[list(sampler)], minlength=len(classes))
    assert dict(zip(classes, drawn.tolist())) == TABLE_4 and len(sampler) == 45_756


def test_published_protocol_duplicates_the_whole_table_to_table_4():
    """data.protocol=published: the same copies made before the split (the paper's 45,756 images)."""
    cfg = _compose("experiment=elgohary2024_cls", "data.root=unused", "data.protocol=published")
    protocol = Protocol.from_config(cfg.data.protocol, cfg.data.published)
    assert (protocol.split_by, protocol.select_on) == ("image", "test")
    classes, labels = list(HAM10000_COUNTS), _real_labels()
    table = pd.DataFrame({"image_id": [f"ISIC_{i}" for i in range(len(labels))], "label": labels})
    table["lesion_id"] = table["image_id"]
    copies = protocol.regroup(table, classes)
    assert copies["label"].map(dict(enumerate(classes))).value_counts().to_dict() == TABLE_4


@pytest.mark.parametrize("protocol", ["honest", "published"])
def test_classification_recipe_at_28_px(compose_cfg, synthetic_root, protocol):
    cfg = compose_cfg(
        ["experiment=elgohary2024_cls", "data=ham10000", f"data.protocol={protocol}", *SMALL], synthetic_root
    )
    assert (cfg.backbone.name, cfg.data.image_size, cfg.data.batch_size) == ("deepconvnet", 28, 2)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    split = pd.read_csv(Path(cfg.hydra.runtime.output_dir) / "split.csv")
    # published: an 80:20 split of the duplicated table, no validation part
    assert ("val" in set(split["split"])) == (protocol == "honest")


@pytest.fixture(scope="module")
def ph2_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ph2") / "PH2Dataset"
    generate_ph2(root, num_cases=15, seed=2, workers=1)
    return root


@pytest.mark.slow
def test_ph2_unet_recipe_at_224_px(compose_cfg, ph2_root):
    """Their U-Net at 224 px with Jaccard loss (at 1/8 of its widths, 64 -> 8: the full one takes minutes
    on a CPU); the IoU with the background is logged beside ours."""
    cfg = compose_cfg(["experiment=elgohary2024_unet_ph2", *SMALL, "model.net.base_channels=8"], ph2_root)
    assert (cfg.data.image_size, cfg.model.net.depth, cfg.loss.name) == (224, 4, "JaccardLoss")
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert {"test/dice", "test/iou", "test/miou_with_background"} <= set(metrics)
    assert metrics["test/iou"] <= metrics["test/dice"] + 1e-6


@pytest.mark.slow
def test_pipeline_recipe_crops_then_classifies_at_28_px(compose_cfg, synthetic_root, tmp_path):
    """A (tiny, untrained) U-Net checkpoint at their 224 px stands in for the PH2 run's best.ckpt."""
    torch.manual_seed(0)
    segmenter = Segmenter(
        {"_target_": "skinlight.models.unet_elgohary.ElgoharyUNet", "base_channels": 2},
        {"_target_": "skinlight.losses.segmentation.SmpLoss", "name": "JaccardLoss", "mode": "binary"},
        {"_target_": "torch.optim.Adam", "lr": 3e-3},
        image_size=224,
    )
    ckpt = tmp_path / "seg.ckpt"
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(segmenter)
    trainer.save_checkpoint(ckpt)
    cfg = compose_cfg(
        ["experiment=elgohary2024_pipeline", "data=ham10000", f"pipeline.seg_ckpt={ckpt}", *SMALL], synthetic_root
    )
    assert (cfg.pipeline.mode, cfg.pipeline.dilation, cfg.data.image_size) == ("crop", 0, 28)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert (Path(cfg.hydra.runtime.output_dir) / "report" / "crop_pipeline.json").is_file()


@pytest.mark.parametrize(
    "backbone, size", [("deepconvnet", 28), ("vgg16", 224), ("resnet50", 224), ("inception_v3", 299), ("xception", 299)]
)
def test_baselines_input_size_per_backbone(compose_cfg, synthetic_root, backbone, size):
    cfg = compose_cfg(["experiment=elgohary2024_baselines", "data=ham10000", f"backbone={backbone}"], synthetic_root)
    assert cfg.data.image_size == size
    assert cfg.hydra.sweeper.params.backbone == "deepconvnet,vgg16,resnet50,inception_v3,xception"


@pytest.mark.slow
@pytest.mark.long
def test_baselines_sweep_runs_every_job_at_its_size(tmp_path, synthetic_root):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            "experiment=elgohary2024_baselines",
            "data=ham10000",
            f"data.root={synthetic_root}",
            "backbone.pretrained=false",
            *SMALL,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = pd.read_csv(next((tmp_path / "multirun").glob("*/*")) / "summary.csv")
    assert summary["backbone"].tolist() == ["deepconvnet", "vgg16", "resnet50", "inception_v3", "xception"]
    assert (summary["status"] == "ok").all()
