"""Robustness: unusual image modes, an empty data folder, a NaN loss, no pickled code from checkpoints
or caches.

Bad files and tables through the real CLIs, one fault per row: test_bad_input.py. Tested next to their
code: duplicate image ids (test_ham10000_reader.py), NaN ages (kept, with a
missing-age flag: test_datamodule.py), classes with too few lesions for a split or for the folds
(test_splits.py), a full disk while writing the image cache (test_cache.py).
"""

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel
from PIL import Image

from skinlight.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from skinlight.checkpoints import load_checkpoint
from skinlight.data.cache import ImageCache
from skinlight.data.classification import HAM10000DataModule
from skinlight.data.layouts.images import load_rgb
from skinlight.errors import CheckpointError, DataError

RGB = np.array([[[200, 30, 60], [10, 250, 90]]], dtype=np.uint8)  # one row, two pixels


def test_grayscale_is_replicated_to_three_channels(tmp_path):
    Image.fromarray(np.array([[0, 128, 255]], np.uint8), mode="L").save(tmp_path / "g.png")
    image = load_rgb(tmp_path / "g.png")
    assert image.shape == (1, 3, 3) and image.dtype == np.uint8
    assert image[0, :, 0].tolist() == [0, 128, 255] and (image == image[..., :1]).all()


def test_rgba_drops_alpha(tmp_path):
    rgba = np.concatenate([RGB, np.array([[[0], [128]]], np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    assert (load_rgb(tmp_path / "a.png") == RGB).all()


def test_cmyk_jpeg_is_converted(tmp_path):
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    image = load_rgb(tmp_path / "c.jpg", min_size=1)
    assert image.shape == (1, 2, 3) and np.abs(image.astype(int) - RGB).max() < 40


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    Image.fromarray(np.array([[0, 100 * 256, 65535]], np.uint16)).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    image = load_rgb(tmp_path / "d.png")
    assert image.dtype == np.uint8 and image[0, :, 1].tolist() == [0, 100, 255]


def test_float_image_is_refused_naming_file_and_mode(tmp_path):
    Image.fromarray(np.ones((2, 2), np.float32)).save(tmp_path / "f.tiff")
    with pytest.raises(DataError, match=r"f\.tiff: unsupported mode 'F'.*save it as 8-bit RGB"):
        load_rgb(tmp_path / "f.tiff")


def test_empty_data_folder_names_the_missing_csv(tmp_path):
    dm = HAM10000DataModule(str(tmp_path), image_size=32, num_workers=0)
    with pytest.raises(DataError, match=f"metadata CSV not found: {tmp_path}.*HAM10000_metadata.csv"):
        dm.setup("fit")


class DivergingModel(BoringModel):
    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        return out["loss"] * (torch.nan if batch_idx == 2 else 1.0)


def test_nan_loss_stops_naming_the_step():
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[StopOnNonFiniteLoss()],
    )
    with pytest.raises(NonFiniteLossError, match=r"training loss is nan at epoch 0, batch 2 \(global step 3\)"):
        trainer.fit(DivergingModel())


class Payload:
    """Unpickling it would run code: it would create the file `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_with_pickled_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "executed"
    torch.save({"state_dict": {}, "hyper_parameters": {"backbone": Payload(marker)}}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="evil.ckpt is not a checkpoint that torch.load reads safely"):
        load_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_cache_file_with_pickled_objects_is_rebuilt_without_running_them(tmp_path):
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(tmp_path / "a.png")
    cache = ImageCache([tmp_path / "a.png"], 8, tmp_path / "cache")
    cache.cache_dir.mkdir()
    marker = tmp_path / "executed"
    np.save(cache.path, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    assert (cache[0] == 90).all()  # refused (allow_pickle=False), rebuilt from the image
    assert not marker.exists()
