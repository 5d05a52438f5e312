"""Nivas et al. 2023 recipes: their settings composed, hair removal on every split, fast_dev_run at real size."""

from pathlib import Path

import pytest
from conftest import RECIPE_RUN
from hydra.utils import instantiate

from skinlight.data.hair_removal import DullRazor
from skinlight.synthetic.segmentation import generate_isic2018
from skinlight.train import build_datamodule, run

SEGMENTATION = ("nivas2023_unet", "nivas2023_deeplabv3plus")
OVERSAMPLE = "experiment/nivas2023_cls@_global_=oversample_resnet50"
SPEED = [o for o in RECIPE_RUN if not o.startswith("trainer.fast_dev_run")]  # the tests choose their length


@pytest.fixture(scope="module")
def isic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nivas_isic") / "ISIC2018"
    generate_isic2018(root, (4, 2, 2), seed=5, image_size=(96, 72), workers=1)
    return root


@pytest.fixture
def recipe(compose_cfg, synthetic_root, isic_root):
    """The composed recipe on its synthetic data (ISIC 2018 Task 1 or HAM10000), with SPEED overrides."""

    def _make(name: str, *overrides: str, speed: bool = True):
        root = isic_root if name in SEGMENTATION else synthetic_root
        return compose_cfg([f"experiment={name}", *overrides, *(SPEED if speed else ())], root)

    return _make


@pytest.mark.parametrize("name", [*SEGMENTATION, "nivas2023_cls"])
def test_their_training_settings_and_augmentation(recipe, name):
    cfg = recipe(name, speed=False)
    assert (cfg.data.batch_size, cfg.optimizer.lr, cfg.trainer.max_epochs) == (16, 1e-5, 50)
    assert cfg.optimizer._target_ == "torch.optim.Adam" and cfg.callbacks.early_stopping is None
    kinds = [t["_target_"].rsplit(".", 1)[1] for t in cfg.augmentation.train]
    assert {"Affine", "ElasticTransform", "HorizontalFlip", "VerticalFlip", "GaussNoise"} <= set(kinds)
    assert [s._target_ for s in cfg.data.preprocess] == ["skinlight.data.hair_removal.DullRazor"]


@pytest.mark.parametrize("name, arch", [("nivas2023_unet", "Unet"), ("nivas2023_deeplabv3plus", "DeepLabV3Plus")])
def test_segmentation_recipes(recipe, name, arch):
    cfg = recipe(name, speed=False)
    assert (cfg.model.net.arch, cfg.model.net.encoder_name, cfg.model.net.pretrained) == (arch, "resnet34", True)
    assert (cfg.loss.name, cfg.data.split, cfg.data.image_size) == ("DiceLoss", "official", 256)


def test_classification_table_is_one_multirun(recipe):
    under, over = recipe("nivas2023_cls", speed=False), recipe("nivas2023_cls", OVERSAMPLE, speed=False)
    assert (under.backbone.name, under.sampler._target_) == ("densenet169", "skinlight.data.samplers.undersample")
    assert (over.backbone.name, over.sampler._target_) == ("resnet50", "skinlight.data.samplers.oversample")
    assert (under.head.dropout, under.data.image_size, under.data.test_fraction) == (0.5, 224, 0.2)
    assert dict(under.hydra.sweeper.params) == {
        "experiment/nivas2023_cls@_global_": "undersample_densenet169,oversample_resnet50",
        "data.test_fraction": "0.2,0.3,0.6",
    }


@pytest.mark.parametrize("name", ["nivas2023_unet", "nivas2023_cls"])
def test_hair_removal_runs_on_every_split(recipe, name):
    datamodule = build_datamodule(recipe(name))
    datamodule.setup("fit")
    for split in ("train", "val", "test"):
        steps = datamodule.datasets[split].transform.transforms
        assert any(isinstance(step, DullRazor) for step in steps), split
    assert isinstance(instantiate(recipe(name).model.preprocess[0]), DullRazor)  # recorded for inference


def test_their_published_protocol_splits_by_image_and_selects_on_test(recipe):
    datamodule = build_datamodule(recipe("nivas2023_cls", "data.protocol=published"))
    assert (datamodule.protocol.split_by, datamodule.protocol.select_on) == ("image", "test")
    datamodule.setup("fit")
    assert set(datamodule.table["split"]) == {"train", "test"}  # train:test only, as the paper


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, overrides",
    [
        ("nivas2023_unet", ["model.net.pretrained=false"]),
        ("nivas2023_deeplabv3plus", ["model.net.pretrained=false"]),
        ("nivas2023_cls", ["backbone.pretrained=false"]),
        ("nivas2023_cls", [OVERSAMPLE, "backbone.pretrained=false"]),
    ],
)
def test_fast_dev_run_at_real_size(recipe, name, overrides):
    cfg = recipe(name, "trainer.fast_dev_run=true", *overrides)
    assert cfg.data.image_size == (256 if name in SEGMENTATION else 224)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    key = "test/dice" if name in SEGMENTATION else "test/balanced_acc"
    assert 0.0 <= metrics[key] <= 1.0
