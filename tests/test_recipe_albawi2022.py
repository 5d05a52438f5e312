"""Albawi et al. 2022 (experiment=albawi2022, albawi2022_mlp, albawi2022_layers): their Tables 1 and 2
row by row, the benign/malignant folders with the recipe, and each recipe with fast_dev_run
(docs/recipes/albawi2022.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import timm
import torch
from conftest import RECIPE_RUN

from skinlight.data.classification import ISICBinaryDataModule
from skinlight.errors import ConfigError
from skinlight.synthetic.isic_binary import generate_isic_binary
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
# Table 1 as printed: layer, output shape (Keras order: H, W, C), parameters.
TABLE_1 = [
    ("layer_1", (224, 224, 32), 896),
    ("layer_2", (112, 112, 32), 0),
    ("Batch_normalization", (112, 112, 32), 128),
    ("layer_3", (112, 112, 64), 18496),
    ("layer_3-1", (112, 112, 64), 36928),
    ("layer_4", (56, 56, 64), 0),
    ("Dropout", (56, 56, 64), 0),
    ("layer_5", (56, 56, 128), 73856),
    ("layer_5-1", (56, 56, 128), 73856),
    ("layer_6", (28, 28, 128), 0),
    ("dropout_1", (28, 28, 128), 0),
    ("layer_7", (28, 28, 256), 295168),
    ("layer_8", (14, 14, 256), 0),
    ("dropout_2", (14, 14, 256), 0),
    ("layer_9", (14, 14, 512), 1180160),
    ("layer_10", (7, 7, 512), 0),
    ("dropout_3", (7, 7, 512), 0),
    ("fc_1", (25088,), 0),
    ("layer_11", (512,), 12845568),
    ("dropout_4", (512,), 0),
    ("layer_12", (128,), 65664),
    ("dropout_5", (128,), 0),
    ("layer_13", (64,), 8256),
    ("dropout_6", (64,), 0),
    ("predictions", (2,), 130),
]
# Table 2 as printed (its layer names too).
TABLE_2 = [
    ("fc_1", (150528,), 0),
    ("lyae_2", (2048,), 308283392),
    ("Dropout", (2048,), 0),
    ("lyae_3", (1024,), 2098176),
    ("lyae_4", (512,), 524800),
    ("lyae_5", (256,), 131328),
    ("lyae_6", (128,), 32896),
    ("lyae_7", (64,), 8256),
    ("Layer_8", (32,), 2080),
    ("predictions", (2,), 66),
]
# Lean fast_dev_run settings; the recipe's own backbone, size and options otherwise.
SMALL = RECIPE_RUN


def keras_rows(name: str, size: int = 224, **kwargs) -> list[tuple[str, tuple[int, ...], int]]:
    """(layer, output shape in Keras' order, parameters counted as Keras does: batch-norm running
    statistics included) of the whole network at `size` px with 2 outputs, on the meta device."""
    rows = []
    with torch.device("meta"):
        net = timm.create_model(name, num_classes=2, img_size=size, **kwargs)
        x = torch.zeros(1, 3, size, size)
        for layer, module in [*net.trunk.named_children(), ("predictions", net.fc)]:
            x = module(x)
            shape = tuple(x.shape[1:])
            tensors = [*module.parameters(), *(b for n, b in module.named_buffers() if "num_batches" not in n)]
            rows.append((layer, shape[1:] + shape[:1] if len(shape) == 3 else shape, sum(t.numel() for t in tensors)))
    return rows


@pytest.mark.parametrize(
    "name, table, total", [("albawi_cnn", TABLE_1, 14_599_106), ("albawi_mlp", TABLE_2, 311_080_994)]
)
def test_every_row_of_their_table(name, table, total):
    """Shape and parameter count of every row; the rows' sum (the printed totals are not their sums)."""
    rows = keras_rows(name)
    assert rows == table
    assert sum(n for *_, n in rows) == total


def test_the_printed_cnn_total_is_a_plain_layer_5_1():
    """14,672,834 (printed under Table 1) is the sum with a 128 -> 128 convolution in one group at layer_5-1."""
    rows = dict((layer, n) for layer, _, n in keras_rows("albawi_cnn", layer_5_1_groups=1))
    assert rows["layer_5-1"] == 147_584 and sum(rows.values()) == 14_672_834


def test_their_layer_counts():
    """Their comparison table: "CNN (layers # 15)" are the rows named layer_*, "MLNN (layers # 9)"
    the flatten, the 7 dense layers and the output."""
    assert sum(layer.startswith("layer_") for layer, *_ in TABLE_1) == 15
    assert sum(not layer.startswith("Dropout") for layer, *_ in TABLE_2) == 9


def test_mlp_hidden_keeps_the_first_dense_layers():
    """Figure 9 (accuracy against hidden layers): backbone.hidden=1 ... 7."""
    widths = (2048, 1024, 512, 256, 128, 64, 32)
    for hidden in range(1, 8):
        with torch.device("meta"):
            net = timm.create_model("albawi_mlp", img_size=32, hidden=hidden)
        dense = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert dense == [*widths[:hidden], 2] and net.num_features == widths[hidden - 1]
    for hidden in (0, 8):
        with pytest.raises(ConfigError, match=f"backbone.hidden={hidden}: albawi_mlp has 1 to 7 hidden layers"):
            timm.create_model("albawi_mlp", img_size=32, hidden=hidden)


def test_recipes_compose_their_settings_and_sweeps(compose_cfg, synthetic_root):
    cnn = compose_cfg(["experiment=albawi2022"], synthetic_root)
    assert cnn.data._target_.endswith("ISICBinaryDataModule") and cnn.data.task == "binary"  # their data
    assert (cnn.backbone.name, cnn.data.image_size, cnn.trainer.max_epochs) == ("albawi_cnn", 224, 50)
    assert dict(cnn.data.published) == {"split_by": "image", "select_on": "test"}
    assert [a._target_.split(".")[-1] for a in cnn.augmentation.train] == ["Affine", "HorizontalFlip", "VerticalFlip"]
    assert dict(cnn.hydra.sweeper.params) == {"data.test_fraction": "0.5,0.4,0.3,0.2,0.1"}  # Table 3
    mlp = compose_cfg(["experiment=albawi2022_mlp", "data=ham10000"], synthetic_root)
    assert (mlp.backbone.name, mlp.backbone.hidden, mlp.trainer.max_epochs, mlp.data.task) == (
        "albawi_mlp",
        7,
        100,
        "binary",
    )
    layers = compose_cfg(["experiment=albawi2022_layers"], synthetic_root)
    assert dict(layers.hydra.sweeper.params) == {"data.test_fraction": "0.2", "backbone.hidden": "1,2,3,4,5,6,7"}


@pytest.fixture(scope="module")
def isic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isic") / "binary"
    generate_isic_binary(root, num_train=24, num_test=8, seed=0, image_size=(48, 48))
    return root


def test_isic_binary_is_the_binary_task_as_it_is(isic_root):
    """data.task=binary (set by the recipe) takes the folders' labels; data.malignant does not apply."""
    dm = ISICBinaryDataModule(str(isic_root), task="binary", image_size=32, num_workers=0)
    dm.setup()
    assert dm.classes == ("benign", "malignant")
    assert (dm.table["label"] == dm.table["image_id"].str.contains("/malignant/")).all()
    with pytest.raises(ConfigError, match="data.task='multiclass': data=isic_binary is the binary task"):
        ISICBinaryDataModule(str(isic_root), task="multiclass")


def train_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_cnn_on_the_benign_malignant_folders_at_224(isic_root, tmp_path):
    """The paper's data layout: `python train.py experiment=albawi2022 data=isic_binary ...` exits 0."""
    out = train_cli("experiment=albawi2022", "data=isic_binary", f"data.root={isic_root}", *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs").glob("*/*/metrics.json")
    assert "albawi_cnn" in (run_dir.parent / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["honest", "published"])
def test_cnn_on_ham10000_at_224(compose_cfg, synthetic_root, protocol):
    cfg = compose_cfg(["experiment=albawi2022", "data=ham10000", f"data.protocol={protocol}", *SMALL], synthetic_root)
    assert (cfg.backbone.name, cfg.data.image_size) == ("albawi_cnn", 224)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert {"test/sensitivity", "test/specificity", "test/auroc"} <= set(metrics)
    info = json.loads((Path(cfg.hydra.runtime.output_dir) / "run_info.json").read_text())
    assert len(info["protocol"]["leaks"]) == {"honest": 0, "published": 2}[protocol]  # by image, chosen on test


@pytest.mark.slow
def test_mlp_at_a_smaller_size(compose_cfg, synthetic_root):
    """The one recipe not run at 224 px: 311 M parameters there (1.2 GB, 3.7 GB with Adam's state);
    at 64 px its first layer has 12,288 inputs instead of 150,528, all other rows are Table 2's."""
    overrides = ["experiment=albawi2022_mlp", "data=ham10000", "data.image_size=64", *SMALL]
    cfg = compose_cfg(overrides, synthetic_root)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.slow
def test_layer_study_is_one_multirun_with_seven_depths(synthetic_root, tmp_path):
    """Figure 9 as a sweep (at 32 px, as the MLP test above: the depth is what varies)."""
    args = ["-m", "experiment=albawi2022_layers", "data=ham10000", f"data.root={synthetic_root}", "data.image_size=32"]
    out = train_cli(*args, *SMALL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = pd.read_csv(next((tmp_path / "multirun").glob("*/*/summary.csv")))
    assert summary["backbone.hidden"].tolist() == [1, 2, 3, 4, 5, 6, 7] and (summary["status"] == "ok").all()
