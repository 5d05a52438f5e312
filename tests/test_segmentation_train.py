"""Segmentation end to end: run(cfg) for each model, the run directory, start-up checks, predict_masks."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from skinlight.checkpoints import load_checkpoint
from skinlight.data.layouts.images import load_rgb, read_mask
from skinlight.errors import ConfigError
from skinlight.evaluation.export import export
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.segment import predict_masks, run_prediction
from skinlight.inference.tta import mask_views
from skinlight.metrics.segmentation import MaskScores
from skinlight.models import segmenter
from skinlight.models.segmenter import Segmenter
from skinlight.synthetic.segmentation import generate_isic2018
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SEG_KEYS = {"test/dice", "test/iou", "test/thresholded_jaccard", "test/pixel_acc", "test/precision", "test/recall"}
# Small and fast: ResNet18 encoder from scratch, 32 px, CPU.
FAST_MODEL = ["model=unet", "model.net.encoder_name=resnet18", "model.net.pretrained=false"]
FAST = [
    "data=isic2018",
    "data.num_workers=0",
    "data.image_size=32",
    "data.batch_size=8",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
]


@pytest.fixture(scope="session")
def isic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isic_train") / "ISIC2018"
    generate_isic2018(root, (24, 8, 8), seed=3, image_size=(96, 72), workers=1)
    return root


@pytest.fixture
def seg_cfg(compose_cfg, isic_root):
    """A segmentation config: model + FAST + overrides on the session's synthetic ISIC 2018 (or data_root)."""

    def _make(*overrides: str, data_root: Path | None = None, model=tuple(FAST_MODEL)):
        return compose_cfg([*model, *FAST, *overrides], data_root or isic_root)

    return _make


def test_segmenter_exports_to_onnx_and_a_model_folder(seg_cfg, tmp_path):
    cfg = seg_cfg("trainer.max_epochs=1")
    run_dir = Path(cfg.hydra.runtime.output_dir)
    run(cfg, run_dir)
    diffs = export(run_dir / "checkpoints" / "best.ckpt", tmp_path / "onnx")
    parity = json.loads((tmp_path / "onnx" / "parity.json").read_text())
    assert max(diffs.values()) < 1e-4 and parity["output"] == "mask_probabilities" and parity["inputs"] == ["image"]
    model = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    model.save_pretrained(tmp_path / "hf")
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (Segmenter.from_pretrained(tmp_path / "hf")(images) - model(images)).abs().max() < 1e-6


@pytest.mark.parametrize(
    "model",
    [
        ["model=unet", "model.net.pretrained=false"],  # the default ResNet34 encoder
        ["model=deeplabv3plus", "model.net.encoder_name=resnet18", "model.net.pretrained=false"],
        ["model=unet_elgohary", "model.net.base_channels=8"],
    ],
)
def test_fast_dev_run_of_each_model(seg_cfg, model):
    cfg = seg_cfg("trainer.fast_dev_run=true", model=model)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert SEG_KEYS <= set(metrics) and all(0.0 <= metrics[k] <= 1.0 for k in SEG_KEYS)
    assert metrics["test/iou"] <= metrics["test/dice"] + 1e-6


def test_run_writes_the_segmentation_run_directory(seg_cfg, tmp_path):
    cfg = seg_cfg("trainer.max_epochs=2", "loss=bce_dice")
    run_dir = Path(cfg.hydra.runtime.output_dir)
    metrics = run(cfg, run_dir)

    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == pytest.approx(metrics) and SEG_KEYS <= set(saved)
    split = pd.read_csv(run_dir / "split.csv")
    assert split["split"].value_counts().to_dict() == {"train": 24, "val": 8, "test": 8}
    per_image = pd.read_csv(run_dir / "report" / "per_image.csv")
    assert sorted(per_image["image_id"]) == sorted(split.loc[split["split"] == "test", "image_id"])
    lesions = split.set_index("image_id")["lesion_id"].fillna(split.set_index("image_id").index.to_series())
    assert per_image.lesion_id.tolist() == lesions[per_image.image_id].tolist()  # no lesion ids: each image its own
    for key in ("dice", "iou", "thresholded_jaccard", "pixel_acc", "precision", "recall"):
        assert per_image[key].mean() == pytest.approx(saved[f"test/{key}"], abs=1e-5)
    for key in ("dice", "iou", "thresholded_jaccard"):  # intervals from a bootstrap over the test lesions
        assert saved[f"test/{key}_ci_low"] <= saved[f"test/{key}"] + 1e-6 <= saved[f"test/{key}_ci_high"] + 2e-6
    figures = sorted(p.name for p in (run_dir / "report").glob("*.png"))
    overlays = [name for name in figures if name != "learning_curves.png"]  # train/val loss and Dice per epoch
    assert len(overlays) == 8 and overlays[0].startswith("best_1_") and overlays[-1].startswith("worst_4_")
    assert "learning_curves.png" in figures
    worst = per_image.sort_values("dice").iloc[0]["image_id"]
    assert (run_dir / "report" / f"worst_1_{worst}.png").read_bytes()[:4] == b"\x89PNG"

    ckpt = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["net"]["encoder_name"] == "resnet18"
    assert ckpt["hyper_parameters"]["image_size"] == 32
    model = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    assert isinstance(model, Segmenter)
    masks = predict_masks(model, [np.zeros((45, 70, 3), np.uint8), np.full((20, 30, 3), 200, np.uint8)])
    assert [m.shape for m in masks] == [(45, 70), (20, 30)] and masks[0].dtype == bool

    out = tmp_path / "masks"
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for i, name in enumerate(("a.jpg", "sub/b.png", "c.bmp")):
        Image.fromarray(np.full((40 + i, 60, 3), 120, np.uint8)).save(images / name)
    written = run_prediction(str(run_dir / "checkpoints" / "best.ckpt"), str(images), str(out))
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "a_segmentation.png",
        "c_segmentation.png",
        "sub/b_segmentation.png",
    ]
    mask = np.asarray(Image.open(out / "c_segmentation.png"))
    assert mask.shape == (42, 60) and set(np.unique(mask)) <= {0, 255}


CLASSIFIER = ("model=classifier", "backbone=timm_test")


@pytest.mark.parametrize(
    "overrides, model, message",
    [
        (
            ["loss=ce"],
            FAST_MODEL,
            "loss=ce is for classification but model=unet does segmentation: use loss=bce|bce_dice|boundary|dice|"
            "dice_boundary|jaccard|lovasz|seg_focal|tversky, or model=classifier|resnet50",
        ),
        (
            ["data=synthetic"],
            FAST_MODEL,
            "data=synthetic is for classification but model=unet does segmentation: "
            "use data=ham10000_seg|isic2018|ph2, or model=classifier|resnet50",
        ),
        (
            [],
            CLASSIFIER,
            "data=isic2018 is for segmentation but model=classifier does classification: use "
            "data=bcn20000|combined|derm7pt|ham10000|isic2018_task3|isic2019|isic2020|isic_binary|pad_ufes20|"
            "synthetic, or model=deeplabv3plus|unet|unet_elgohary",
        ),
        (["data=ham10000", "loss=dice"], CLASSIFIER, "loss=dice is for segmentation but model=classifier"),
        (["model.net.encoder_name=resnet5O"], FAST_MODEL, "model.net.encoder_name='resnet5O' is not an smp encoder"),
        (["data.image_size=40"], FAST_MODEL, "data.image_size=40 must be a multiple of 32"),
    ],
)
def test_impossible_combinations_stop_at_start_up(seg_cfg, overrides, model, message):
    cfg = seg_cfg(*overrides, model=model)
    with pytest.raises(ConfigError, match=message.replace("|", r"\|")):
        run(cfg, cfg.hydra.runtime.output_dir)


def test_missing_hub_weights_fail_fast_in_one_line(seg_cfg, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(segmenter, "_encoder_weights_cached", lambda *args: False)
    cfg = seg_cfg("model.net.pretrained=true")
    with pytest.raises(
        ConfigError,
        match="^pretrained weights for encoder 'resnet18' are not cached and "
        "HF_HUB_OFFLINE=1: use model.net.pretrained=false",
    ):
        run(cfg, cfg.hydra.runtime.output_dir)
    assert not (Path(cfg.hydra.runtime.output_dir) / "split.csv").exists()  # before any data is read


def test_cli_predict_masks_says_what_is_wrong(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "predict_masks.py"), f"ckpt_path={tmp_path / 'none.ckpt'}", f"input={tmp_path}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and f"error: checkpoint not found: {tmp_path / 'none.ckpt'}" in out.stderr


def _shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"{path} absent")
    return path


@pytest.mark.shared_data
def test_unet_on_the_real_ph2_sample(seg_cfg):
    cfg = seg_cfg("data=ph2", "trainer.max_epochs=1", data_root=_shared("PH2-sample", "PH2Dataset"))
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert SEG_KEYS <= set(metrics)


@pytest.mark.shared_data
def test_unet_on_the_real_ham10000_masks(seg_cfg):
    cfg = seg_cfg(
        "data=ham10000_seg",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        data_root=_shared("HAM10000-200x150"),
    )
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert SEG_KEYS <= set(metrics)
    split = pd.read_csv(Path(cfg.hydra.runtime.output_dir) / "split.csv")
    assert len(split) == 10015 and (split.groupby("lesion_id")["split"].nunique() == 1).all()


@pytest.mark.slow
def test_unet_reaches_dice_085_on_synthetic_isic2018(seg_cfg, tmp_path_factory):
    """The README's quick U-Net (ResNet18 from scratch, 64 px, 2 epochs) on a default-size synthetic copy."""
    root = tmp_path_factory.mktemp("isic_full") / "ISIC2018"
    generate_isic2018(root, (400, 50, 100), seed=0, workers=2)
    cfg = seg_cfg(
        "data.image_size=64", "data.batch_size=8", "optimizer.lr=2e-3", "trainer.max_epochs=2", data_root=root
    )
    assert run(cfg, cfg.hydra.runtime.output_dir)["test/dice"] >= 0.85


def test_test_step_scores_at_the_image_size_with_tta_postprocessing_and_the_tuned_threshold(seg_cfg):
    """tune_threshold, tta=flips and postprocess=largest_filled with min_area (which empties some masks): the
    checkpoint keeps its epoch's threshold from the grid, and the test metrics equal predict_masks' masks (the same
    options) scored against the mask files at their own size, and differ from the masks without post-processing."""
    post = ["postprocess=largest_filled", "postprocess.min_area=0.2"]
    cfg = seg_cfg("trainer.max_epochs=2", "model.tune_threshold=true", "tta=flips", *post)
    run_dir = Path(cfg.hydra.runtime.output_dir)
    metrics = run(cfg, run_dir)
    ckpt = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    threshold = ckpt["hyper_parameters"]["threshold"]
    assert threshold in segmenter.THRESHOLD_GRID
    logged = pd.read_csv(next(run_dir.glob("logs/**/metrics.csv")))
    assert any(value == pytest.approx(threshold) for value in logged["val/threshold"].dropna())

    model = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    assert model.hparams.threshold == threshold
    root = Path(cfg.data.root)
    views = mask_views(["identity", "hflip", "vflip", "rot180"])
    options = {"cleaned": PostProcess(largest_component=True, fill_holes=True, min_area=0.2), "plain": None}
    expected = {name: MaskScores() for name in options}
    for image_id in pd.read_csv(run_dir / "split.csv").query("split == 'test'")["image_id"]:
        truth = read_mask(next(root.rglob(f"{image_id}_segmentation.png"))) > 0
        assert truth.shape == (72, 96)  # the file's size, not the model's 32 px
        image = load_rgb(next(root.rglob(f"{image_id}.jpg")), model.hparams.image_size)
        for name, postprocess in options.items():
            (mask,) = predict_masks(model, [image], sizes=[truth.shape], views=views, postprocess=postprocess)
            expected[name].update(torch.from_numpy(mask), torch.from_numpy(truth))
    cleaned, plain = (expected[name].compute() for name in options)
    for key, value in cleaned.items():
        # the logged metrics are float32: at hd95 ~ 60 px one float32 step is ~4e-6
        assert metrics[f"test/{key}"] == pytest.approx(float(value), rel=1e-6, abs=1e-6), key
    assert metrics["test/empty_predictions"] > plain["empty_predictions"]  # min_area removed whole masks
    per_image = pd.read_csv(run_dir / "report" / "per_image.csv")
    assert {"hd95", "asd", "empty_truth", "empty_prediction"} <= set(per_image.columns)
    assert per_image["hd95"].mean() == pytest.approx(metrics["test/hd95"], abs=1e-5)


def test_tta_and_postprocess_in_training_are_for_segmentation(compose_cfg, synthetic_root):
    cfg = compose_cfg(["backbone=timm_test", "tta=d4"], synthetic_root)
    with pytest.raises(ConfigError, match=r"^tta=d4: training's test step takes these for segmentation only"):
        run(cfg, cfg.hydra.runtime.output_dir)
