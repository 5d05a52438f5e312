"""Crop-to-classify (pipeline=crop): dilation, crop geometry, mask mode, empty-mask fallback, the cache,
bad checkpoints, and the run / the le2020_crop_dilation multirun end to end."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as L
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from skinlight.errors import ConfigError
from skinlight.inference import segment
from skinlight.inference.crop import CropPipeline, crop_box, derive, dilate
from skinlight.models.segmenter import Segmenter
from skinlight.train import build_model, run

ROOT = Path(__file__).resolve().parents[1]
TINY_NET = {"_target_": "skinlight.models.unet_elgohary.ElgoharyUNet", "base_channels": 2}
LOSS, ADAM = (
    {"_target_": "skinlight.losses.segmentation.SmpLoss", "name": "DiceLoss", "mode": "binary"},
    {"_target_": "torch.optim.Adam", "lr": 1e-3},
)


def _save(model: L.LightningModule, path: Path) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def _segmenter_ckpt(path: Path, seed: int) -> Path:
    """An untrained tiny segmenter's checkpoint (its weights depend on `seed`)."""
    torch.manual_seed(seed)
    return _save(Segmenter(TINY_NET, LOSS, ADAM, image_size=32), path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("ckpts")
    return SimpleNamespace(a=_segmenter_ckpt(folder / "a.ckpt", 0), b=_segmenter_ckpt(folder / "b.ckpt", 1))


@pytest.fixture
def images(tmp_path) -> pd.DataFrame:
    """Six 90x120 noise images; the table of a classification datamodule after its split."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        path = tmp_path / "images" / f"IMG_{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(1, 256, (90, 120, 3), dtype=np.uint8)).save(path)
        rows.append({"image_id": f"IMG_{i}", "path": path, "label": i % 2, "split": ["train", "val", "test"][i % 3]})
    return pd.DataFrame(rows)


def _disc(shape=(90, 120), centre=(40, 50), radius=10) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


@pytest.fixture
def predictions(monkeypatch):
    """skinlight.inference.segment.predict_masks replaced by hand-made masks (a disc; empty for images of mean < 0);
    records the number of images predicted per call."""
    calls = []

    def predict(model, batch, sizes=None, batch_size=8):
        calls.append(len(batch))
        return [
            _disc(im.shape[:2]) if im.mean() >= predict.empty_below else np.zeros(im.shape[:2], bool) for im in batch
        ]

    predict.empty_below = 0
    monkeypatch.setattr(segment, "predict_masks", predict)
    return SimpleNamespace(calls=calls, predict=predict)


@pytest.mark.parametrize("k", [0, 1, 3, 8])
def test_dilation_grows_a_hand_made_mask_by_exactly_k_pixels(k):
    mask = np.zeros((60, 50), bool)
    mask[15:20, 10:30] = True  # a bar
    mask[45, 40] = True  # and one pixel
    yy, xx = np.mgrid[:60, :50]
    ys, xs = np.nonzero(mask)
    distance = np.sqrt((yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2).min(-1)  # brute force
    grown = dilate(mask, k)
    assert np.array_equal(grown, distance <= k)
    rows, cols = np.nonzero(grown[:32])  # the bar's part
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (15 - k, 19 + k, 10 - k, 29 + k)


def test_crop_box_is_square_and_inside_the_image():
    rng = np.random.default_rng(1)
    for _ in range(200):
        mask = np.zeros((90, 120), bool)
        y, x = rng.integers(0, 90), rng.integers(0, 120)
        mask[y : y + rng.integers(1, 60), x : x + rng.integers(1, 80)] = True
        y0, x0, y1, x1 = crop_box(mask)
        ys, xs = np.nonzero(mask)
        assert 0 <= y0 < y1 <= 90 and 0 <= x0 < x1 <= 120
        assert y0 <= ys.min() and ys.max() < y1 and x0 <= xs.min() and xs.max() < x1  # holds the lesion
        assert y1 - y0 == x1 - x0 == max(np.ptp(ys), np.ptp(xs)) + 1  # square, the lesion's longer side
    corner = np.zeros((90, 120), bool)
    corner[0:4, 110:120] = True
    assert crop_box(corner) == (0, 110, 10, 120)  # grown into the image, not out of it
    wide = np.zeros((90, 120), bool)
    wide[40:50, 5:115] = True  # wider than the image is high: full height, padded to a square
    assert crop_box(wide) == (0, 5, 90, 115)
    image = np.full((90, 120, 3), 200, np.uint8)
    out = derive(image, wide, 0, "crop")
    assert (
        out.shape == (110, 110, 3) and (out[:10] == 0).all() and (out[-10:] == 0).all() and (out[10:100] == 200).all()
    )


def test_crop_mode_cuts_the_dilated_box_and_mask_mode_blacks_out_the_rest():
    image = np.random.default_rng(2).integers(1, 256, (90, 120, 3), dtype=np.uint8)
    mask = _disc(radius=10)
    crop = derive(image, mask, 5, "crop")
    assert crop.shape == (31, 31, 3) and np.array_equal(crop, image[25:56, 35:66])  # (10 + 5) * 2 + 1
    masked = derive(image, mask, 5, "mask")
    inside = dilate(mask, 5)
    assert masked.shape == image.shape
    assert (masked[~inside] == 0).all() and np.array_equal(masked[inside], image[inside])
    assert derive(image, np.zeros((90, 120), bool), 64, "crop") is None


def test_empty_masks_keep_the_full_image_and_are_counted(images, ckpts, predictions, tmp_path):
    dark = images["image_id"].isin(["IMG_1", "IMG_3"])
    for path in images.loc[dark, "path"]:  # these get an empty predicted mask
        Image.fromarray(np.full((90, 120, 3), 5, np.uint8)).save(path)
    predictions.predict.empty_below = 10
    report = tmp_path / "run" / "report" / "crop_pipeline.json"
    out = CropPipeline(str(ckpts.a), dilation=4, cache_dir=str(tmp_path / "cache"), report=str(report))(images)
    assert out.loc[dark, "path"].tolist() == images.loc[dark, "path"].tolist()  # the full image
    derived = out.loc[~dark, "path"]
    assert all(Path(p).parent.name == "crop_k4" for p in derived)
    assert all(Image.open(p).size == (29, 29) for p in derived)  # (10 + 4) * 2 + 1
    saved = json.loads(report.read_text())
    assert saved["images"] == 6 and saved["empty_masks"] == 2 and saved["empty_mask_image_ids"] == ["IMG_1", "IMG_3"]
    assert saved["empty_masks_per_split"] == {"test": 0, "train": 1, "val": 1}
    assert (saved["dilation"], saved["mode"]) == (4, "crop")


def test_cache_is_reused_and_invalidated_by_k_mode_and_checkpoint(images, ckpts, predictions, tmp_path):
    cache = str(tmp_path / "cache")
    first = CropPipeline(str(ckpts.a), dilation=4, cache_dir=cache)(images)
    assert sum(predictions.calls) == 6
    stamps = [Path(p).stat().st_mtime_ns for p in first["path"]]
    again = CropPipeline(str(ckpts.a), dilation=4, cache_dir=cache)(images)
    assert sum(predictions.calls) == 6 and again["path"].tolist() == first["path"].tolist()  # nothing predicted
    assert [Path(p).stat().st_mtime_ns for p in again["path"]] == stamps  # nor written again

    copy = tmp_path / "copy.ckpt"
    copy.write_bytes(ckpts.a.read_bytes())  # same contents elsewhere: the same cache
    assert CropPipeline(str(copy), dilation=4, cache_dir=cache)(images)["path"].tolist() == first["path"].tolist()

    wider = CropPipeline(str(ckpts.a), dilation=8, cache_dir=cache)(images)
    masked = CropPipeline(str(ckpts.a), dilation=4, mode="mask", cache_dir=cache)(images)
    assert sum(predictions.calls) == 6  # another k or mode: new images from the cached masks
    assert Image.open(wider["path"][0]).size == (37, 37) and Image.open(masked["path"][0]).size == (120, 90)
    assert len({Path(p).parent for p in (first["path"][0], wider["path"][0], masked["path"][0])}) == 3

    other = CropPipeline(str(ckpts.b), dilation=4, cache_dir=cache)(images)
    assert sum(predictions.calls) == 12  # another checkpoint: predicted again, into another folder
    assert Path(other["path"][0]).parents[2] != Path(first["path"][0]).parents[2]

    Image.fromarray(np.zeros((90, 120, 3), np.uint8)).save(images["path"][0])  # the data changed
    CropPipeline(str(ckpts.a), dilation=4, cache_dir=cache)(images)
    assert sum(predictions.calls) == 18


def test_bad_pipeline_settings_and_checkpoints_are_config_errors(ckpts, tmp_path, compose_cfg):
    cfg = compose_cfg(["model=classifier", "backbone=timm_test", "data=ham10000"], Path("unused"))
    data = SimpleNamespace(
        model_inputs=lambda: {"class_names": ["a", "b"], "class_counts": [1, 1], "metadata": None},
        fingerprint=lambda: {"root": "unused", "split_sha256": "", "images": {}},
    )
    classifier = _save(build_model(cfg, data), tmp_path / "classifier.ckpt")
    cases = [
        (dict(seg_ckpt=None), "pipeline.seg_ckpt is not set"),
        (
            dict(seg_ckpt=str(tmp_path / "none.ckpt")),
            f"pipeline.seg_ckpt: checkpoint not found: {tmp_path / 'none.ckpt'}",
        ),
        (dict(seg_ckpt=str(classifier)), f"pipeline.seg_ckpt: {classifier} is a classification checkpoint"),
        (dict(seg_ckpt=str(ckpts.a), mode="box"), "pipeline.mode='box': use crop or mask"),
        (dict(seg_ckpt=str(ckpts.a), dilation=-8), "pipeline.dilation=-8: a number of pixels >= 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            CropPipeline(**kwargs)


def test_pipeline_with_a_segmentation_model_stops_at_start_up(make_cfg, ckpts):
    cfg = make_cfg(
        "model=unet",
        "model.net.pretrained=false",
        "data=ph2",
        "loss=dice",
        "pipeline=crop",
        f"pipeline.seg_ckpt={ckpts.a}",
    )
    with pytest.raises(
        ConfigError,
        match="^pipeline: classification options, which segmentation data cannot use; leave them at sampler=none",
    ):
        run(cfg, cfg.hydra.runtime.output_dir)


def test_classifier_trains_and_tests_on_the_derived_images(make_cfg, ckpts, tmp_path):
    """run(cfg) with pipeline=crop: the loaders read the cached crops; the run's report counts fallbacks."""
    cfg = make_cfg(
        "pipeline=crop",
        f"pipeline.seg_ckpt={ckpts.a}",
        "pipeline.dilation=4",
        "pipeline.mode=mask",
        "trainer.fast_dev_run=true",
        "data.cache=false",
    )
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0
    run_dir = Path(cfg.hydra.runtime.output_dir)
    report = json.loads((run_dir / "report" / "crop_pipeline.json").read_text())
    assert report["images"] == len(pd.read_csv(run_dir / "split.csv"))
    derived_dir = Path(report["cache"])
    assert derived_dir.is_relative_to(tmp_path / "data" / "crop_cache") and derived_dir.name == "mask_k4"
    manifest = json.loads((derived_dir / "manifest.json").read_text())
    assert report["empty_masks"] == sum(v == "empty mask" for v in manifest.values())
    assert len(list(derived_dir.glob("*.png"))) == report["images"] - report["empty_masks"]


def _train_tiny_segmenter(make_cfg) -> Path:
    cfg = make_cfg(
        "model=unet_elgohary",
        "model.net.base_channels=4",
        "data=ham10000_seg",
        "data.image_size=32",
        "loss=dice",
        "optimizer.lr=0.01",
        "trainer.max_epochs=4",
    )
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert metrics["test/dice"] > 0.3
    return Path(cfg.hydra.runtime.output_dir) / "checkpoints" / "best.ckpt"


@pytest.mark.slow
def test_le2020_crop_dilation_multirun_end_to_end(make_cfg, synthetic_root, tmp_path):
    """The acceptance sweep on synthetic data: a tiny segmenter trained here, one summary row per dilation."""
    ckpt = _train_tiny_segmenter(make_cfg)
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            "experiment=le2020_crop_dilation",
            "data=ham10000",
            f"data.root={synthetic_root}",
            f"pipeline.seg_ckpt={ckpt}",
            "backbone=timm_test",
            "data.image_size=32",
            "data.batch_size=8",
            "data.num_workers=0",
            "trainer.accelerator=cpu",
            "trainer.max_epochs=1",
            "callbacks.progress_bar=null",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = next((tmp_path / "multirun").glob("*/*"))
    summary = pd.read_csv(sweep / "summary.csv", keep_default_na=False)
    assert summary["pipeline.dilation"].astype(str).tolist() == ["0", "8", "16", "32", "64", "null"]
    assert (summary["status"] == "ok").all() and summary["balanced_acc"].between(0, 1).all()
    assert (sweep / "summary.md").read_text().count("\n") == 2 + 6  # header, rule, one row per dilation
    reports = [json.loads((sweep / str(job) / "report" / "crop_pipeline.json").read_text()) for job in range(6)]
    assert [r["dilation"] for r in reports] == [0, 8, 16, 32, 64, None]
    assert reports[0]["empty_masks"] < reports[0]["images"]  # the trained segmenter finds lesions
    masks = Path(reports[0]["cache"]).parent / "masks"
    assert len(list(masks.glob("*.png"))) == reports[0]["images"]  # predicted once, shared by every dilation
