"""Le et al. 2020 recipes (docs/recipes/le2020.md): their networks on the meta device, their test set (one
image per test lesion), the Table VII k-fold recipe, and the recipes not run elsewhere at 224 px."""

import subprocess
import sys
from pathlib import Path

import lightning.pytorch as L
import pandas as pd
import pytest
import torch
from conftest import RECIPE_RUN
from hydra.utils import instantiate

from skinlight.metrics.classification import TABLE_METRICS
from skinlight.models.segmenter import Segmenter
from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
HAM = Path(__file__).resolve().parents[2] / "shared" / "data" / "HAM10000-200x150"
CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
SMALL = ["data=ham10000", *RECIPE_RUN, "backbone.pretrained=false"]


@pytest.fixture(scope="module")
def kfold_root(tmp_path_factory) -> Path:
    """A synthetic HAM10000 with 7 lesions in the smallest classes: 6 left after the test split, enough for 5 folds."""
    root = tmp_path_factory.mktemp("synthetic") / "ham160"
    generate_ham10000(root, num_lesions=160, seed=0, image_size=(120, 90), workers=1)
    return root


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "overrides, fc_in, backbone, total",
    [
        ([], 2048, 23_508_032, 24_560_711),  # ResNet50 + GAP -> FC 512 -> dropout 0.5 -> FC 7
        (["experiment/le2020_ablation@_global_=no_gap"], 7 * 7 * 2048, 23_508_032, 74_892_359),
        (["backbone=mobilenetv1"], 1024, 3_206_976, 3_735_367),  # Table VI
        (["backbone=efficientnet_b1"], 1280, 6_513_184, 7_172_647),
    ],
)
def test_the_networks_of_tables_i_and_vi(compose_cfg, overrides, fc_in, backbone, total):
    cfg = compose_cfg(["experiment=le2020_ablation", *SMALL, "loss.alpha=null", *overrides], "/unused")
    with torch.device("meta"):
        net = instantiate(cfg.model, class_names=CLASSES, _convert_="all", _recursive_=False)
    fc1, dropout = net.head.mlp[0], net.head.mlp[2]
    assert (fc1.in_features, fc1.out_features, dropout.p) == (fc_in, 512, 0.5)
    assert (net.classifier.in_features, net.classifier.out_features) == (512, 7)
    assert (_params(net.backbone), _params(net)) == (backbone, total)
    assert all(p.requires_grad for p in net.parameters())  # "all layers ... unfrozen"


def _split(compose_cfg, root: Path, *overrides: str, experiment: str = "le2020_resnet50") -> pd.DataFrame:
    cfg = compose_cfg([f"experiment={experiment}", *SMALL, *overrides], root)
    datamodule = instantiate(cfg.data, _convert_="all")
    return datamodule.split_table(datamodule.read_table())


def _test_lesion_images(table: pd.DataFrame) -> pd.DataFrame:
    """Every image of a lesion that has an image in the test split."""
    return table[table.lesion_id.isin(table.lesion_id[table.split == "test"])]


def test_their_test_set_one_image_per_test_lesion_the_others_unused(compose_cfg, synthetic_root):
    table = _split(compose_cfg, synthetic_root)
    test = table[table.split == "test"]
    assert len(test) == test.lesion_id.nunique() > 0
    siblings = _test_lesion_images(table)
    assert set(siblings.split) == {"test", "unused"}  # honest: no image of a test lesion is trained on
    assert (table.split == "unused").sum() == len(siblings) - len(test) > 0


def test_their_published_split_trains_on_other_images_of_test_lesions(compose_cfg, synthetic_root):
    table = _split(compose_cfg, synthetic_root, "data.protocol=published")
    test = table[table.split == "test"]
    assert len(test) == test.lesion_id.nunique()
    siblings = _test_lesion_images(table)
    siblings = siblings[siblings.split != "test"]
    assert len(siblings) and (siblings.split == "train").all()  # the untested images of test lesions train
    assert "unused" not in set(table.split)


@pytest.mark.shared_data
@pytest.mark.skipif(not (HAM / "HAM10000_metadata.csv").exists(), reason="needs ../shared/data/HAM10000-200x150")
def test_on_the_real_ham10000_our_test_set_is_theirs_within_one_lesion(compose_cfg):
    """Theirs: 1,494 test images of 1,494 lesions (20 % of 7,470), train/val 6,817 / 1,704 images."""
    counts = _split(compose_cfg, HAM).split.value_counts().to_dict()
    assert counts["test"] == 1495  # 20 % of each class's lesions, rounded per class
    assert counts["test"] + counts["unused"] + counts["train"] + counts["val"] == 10_015
    assert counts["train"] + counts["val"] == 10_015 - 1495 - counts["unused"]
    published = _split(compose_cfg, HAM, "data.protocol=published").split.value_counts().to_dict()
    assert published["train"] + published["val"] == 10_015 - 1495  # theirs: all 8,521 others (10,015 - 1,494)


def test_le2020_kfold_is_the_recipe_over_five_folds_and_shares_the_test_set(compose_cfg, kfold_root):
    cfg = compose_cfg(["experiment=le2020_kfold", *SMALL], kfold_root)
    recipe = compose_cfg(["experiment=le2020_resnet50", *SMALL], kfold_root)
    assert cfg.data.num_folds == 5 and cfg.hydra.sweeper.params["data.fold"] == "0,1,2,3,4"
    for group in ("backbone", "head", "loss", "optimizer", "scheduler", "augmentation"):
        assert cfg[group] == recipe[group], group
    tables = [_split(compose_cfg, kfold_root, f"data.fold={k}", experiment="le2020_kfold") for k in (0, 4)]
    assert (
        tables[0].image_id[tables[0].split == "test"].tolist() == tables[1].image_id[tables[1].split == "test"].tolist()
    )
    assert set(tables[0].image_id[tables[0].split == "val"]).isdisjoint(tables[1].image_id[tables[1].split == "val"])


@pytest.mark.slow
def test_le2020_kfold_runs_at_224(compose_cfg, kfold_root):
    cfg = compose_cfg(["experiment=le2020_kfold", *SMALL], kfold_root)
    assert (cfg.backbone.name, cfg.data.image_size, cfg.data.fold) == ("resnet50", 224, 0)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0


@pytest.mark.slow
def test_le2020_crop_dilation_runs_at_224(compose_cfg, synthetic_root, tmp_path):
    """One job of the sweep (dilation 0, masked images) with an untrained tiny segmenter's checkpoint."""
    net = {"_target_": "skinlight.models.unet_elgohary.ElgoharyUNet", "base_channels": 2}
    loss = {"_target_": "skinlight.losses.segmentation.SmpLoss", "name": "DiceLoss", "mode": "binary"}
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(Segmenter(net, loss, {"_target_": "torch.optim.Adam"}, image_size=32))
    trainer.save_checkpoint(tmp_path / "seg.ckpt")
    cfg = compose_cfg(
        ["experiment=le2020_crop_dilation", *SMALL, f"pipeline.seg_ckpt={tmp_path / 'seg.ckpt'}"], synthetic_root
    )
    assert (cfg.data.image_size, cfg.pipeline.dilation, cfg.pipeline.mode) == (224, 0, "mask")
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0


@pytest.mark.slow
@pytest.mark.long
def test_table_vii_command_sequence(kfold_root, tmp_path):
    """train.py -m experiment=le2020_kfold, then eval.py ensemble=<sweep> tta=flips: their Table VII rows,
    on their test set (one image per test lesion), as the docs give it (small network, 1 epoch)."""
    small = ["backbone=timm_test", "data.image_size=32", "trainer.max_epochs=1", "+trainer.limit_train_batches=2"]
    common = ["data=ham10000", f"data.root={kfold_root}", "data.num_workers=0"]
    train = [sys.executable, "train.py", "-m", "experiment=le2020_kfold", *common, "data.batch_size=4", *small]
    train += ["trainer.accelerator=cpu", "callbacks.progress_bar=null", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    subprocess.run(train, cwd=ROOT, check=True, capture_output=True, timeout=900)
    evaluate = [sys.executable, "eval.py", f"ensemble={tmp_path / 'sweep'}", "tta=flips", *common]
    subprocess.run([*evaluate, f"hydra.run.dir={tmp_path / 'eval'}"], cwd=ROOT, check=True, capture_output=True)
    table = pd.read_csv(tmp_path / "eval" / "table.csv")
    folds = [f"data.fold={k}" for k in range(5)]
    assert table.model.tolist() == [*folds, "ensemble", "ensemble + TTA (flips)"]
    assert table[list(TABLE_METRICS)].notna().all().all()
    split = pd.read_csv(tmp_path / "sweep" / "0" / "split.csv")
    predicted = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    test = split[split.split == "test"]
    assert sorted(predicted.image_id) == sorted(test.image_id) and len(test) == test.lesion_id.nunique()
