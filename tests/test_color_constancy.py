"""Shades-of-Gray colour constancy (preprocess=shades_of_gray): the formula, a removed colour cast, bad
settings, and the step recorded in the checkpoint and applied at prediction."""

import albumentations as A
import numpy as np
import pytest
import torch
from PIL import Image

from skinlight.checkpoints import load_checkpoint
from skinlight.data.color_constancy import ShadesOfGray
from skinlight.data.transforms import build_transform, preprocessing
from skinlight.errors import ConfigError
from skinlight.inference.classify import predict
from skinlight.train import build_datamodule, run


def _skin(seed=0, cast=(1.0, 1.0, 1.0)) -> np.ndarray:
    """A textured skin-like uint8 RGB image (no value near 255), multiplied by a colour cast."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:48, :64].astype(np.float64)
    base = 120 + 30 * np.sin(x / 7) * np.cos(y / 5) + rng.normal(0, 8, (48, 64))
    image = np.stack([base * 1.05, base * 0.85, base * 0.75], axis=-1) * np.asarray(cast)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _p_means(image, p):
    return np.mean(image.astype(np.float64) ** p, axis=(0, 1)) ** (1 / p)


@pytest.mark.parametrize("power", [1, 6, 2.5])
def test_matches_the_shades_of_gray_formula(power):
    image = _skin(cast=(1.2, 1.0, 0.8))
    e = _p_means(image, power)
    expected = np.clip(np.rint(image * (np.sqrt(np.sum(e**2)) / (np.sqrt(3) * e))), 0, 255).astype(np.uint8)
    out = ShadesOfGray(power=power)(image=image)["image"]
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out, expected)


def test_a_colour_cast_comes_out_grey_balanced():
    """Equal channel p-means after the correction (the illuminant is grey); opposite casts give the same colours."""
    reddish, bluish = _skin(cast=(1.25, 1.0, 0.8)), _skin(cast=(0.8, 1.0, 1.25))
    assert np.ptp(_p_means(reddish, 6)) > 50
    for image in (reddish, bluish):
        means = _p_means(ShadesOfGray()(image=image)["image"], 6)
        assert np.ptp(means) < 0.01 * means.mean(), means
    grey_world = _p_means(ShadesOfGray(power=1)(image=reddish)["image"], 1)
    assert np.ptp(grey_world) < 0.01 * grey_world.mean()
    a, b = (_chromaticity(ShadesOfGray()(image=im)["image"]) for im in (reddish, bluish))
    assert np.abs(a - b).mean() < 0.05 * np.abs(_chromaticity(reddish) - _chromaticity(bluish)).mean()


def _chromaticity(image):
    image = image.astype(np.float64) + 1e-9
    return image / image.sum(-1, keepdims=True)


def test_clipped_to_uint8_black_kept_and_the_mask_untouched():
    image = _skin(cast=(2.0, 1.0, 0.3))  # red saturates: its gain is < 1, blue's > 1 (clipped at 255)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[10:20, 10:30] = 1
    out = A.Compose([ShadesOfGray()])(image=image, mask=mask)
    assert out["image"].dtype == np.uint8 and np.array_equal(out["mask"], mask)
    assert np.array_equal(ShadesOfGray()(image=np.zeros((8, 8, 3), np.uint8))["image"], np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="uint8 RGB"):
        ShadesOfGray()(image=np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize("power", [0, -1, float("inf"), "6", True])
def test_bad_power_says_what_to_change(power):
    with pytest.raises(ConfigError, match=f"^ShadesOfGray power={power!r}: use a positive finite number"):
        ShadesOfGray(power=power)


def test_bad_power_in_the_config_is_one_line(make_cfg):
    with pytest.raises(ConfigError, match=r"^ShadesOfGray power=0: "):
        build_datamodule(make_cfg("preprocess=shades_of_gray", "preprocess.steps.0.power=0"))


def test_trained_model_records_the_step_and_predict_applies_it(make_cfg, tmp_path):
    cfg = make_cfg("preprocess=shades_of_gray", "trainer.max_epochs=1", "data.use_metadata=false")
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    for split in ("train", "val", "test"):  # every split, not only train
        assert any(isinstance(t, ShadesOfGray) for t in datamodule.datasets[split].transform.transforms), split
    run(cfg, cfg.hydra.runtime.output_dir)

    model = load_checkpoint(f"{cfg.hydra.runtime.output_dir}/checkpoints/last.ckpt").eval()
    assert model.hparams.preprocess == [{"_target_": "skinlight.data.color_constancy.ShadesOfGray", "power": 6}]
    (step,) = preprocessing(model.hparams.preprocess)
    assert isinstance(step, ShadesOfGray) and step.power == 6

    images = tmp_path / "images"
    images.mkdir()
    arrays = [_skin(seed=1, cast=(1.3, 1.0, 0.7)), _skin(seed=2, cast=(0.7, 1.0, 1.3))]
    for k, array in enumerate(arrays):
        Image.fromarray(array).save(images / f"{k}.png")
    result = predict(f"{cfg.hydra.runtime.output_dir}/checkpoints/last.ckpt", str(images), str(tmp_path / "p.csv"))
    got = torch.tensor(result[list(model.hparams.class_names)].to_numpy(), dtype=torch.float32)

    def probs(preprocess):
        batch = torch.stack([build_transform(32, preprocess=preprocess)(image=a)["image"] for a in arrays])
        with torch.no_grad():
            return model(batch).softmax(1)

    assert torch.allclose(got, probs([ShadesOfGray(6)]), atol=1e-5)
    assert not torch.allclose(got, probs([]), atol=1e-5)
