"""Mask inference options (predict_masks, predict_folder): TTA views mapped back, post-processing, masks at
each image's own size."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BrightIsLesion, disc_image
from PIL import Image

from skinlight.errors import ConfigError
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.segment import mask_probs, predict_folder, predict_masks, run_prediction
from skinlight.inference.tta import mask_views

D4 = ["identity", "rot90", "rot180", "rot270", "hflip", "vflip", "transpose", "antitranspose"]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_d4_tta_of_an_equivariant_model_is_its_plain_mask():
    image = disc_image(150, 200, 30, centre=(40, 60))  # off-centre: a view left unmapped would move the disc
    model = BrightIsLesion("pad")
    (plain,) = mask_probs(model, [image])
    (tta,) = mask_probs(model, [image], views=mask_views(D4))
    assert tta.shape == plain.shape == (150, 200)
    assert (tta - plain).abs().max() < 1e-5


def test_flips_tta_cancels_a_left_right_bias():
    """A model tilted towards the right grows the disc to the right; flips averages the tilt out."""
    image = disc_image(150, 200, 30, centre=(75, 100))
    truth = image[..., 0] > 127
    model = BrightIsLesion("pad", tilt=25.0)
    (plain,) = predict_masks(model, [image])
    (tta,) = predict_masks(model, [image], views=mask_views(["identity", "hflip", "vflip", "rot180"]))
    assert iou(tta, truth) > 0.95 > iou(plain, truth) + 0.1
    columns = np.nonzero(tta.any(0))[0]
    assert abs((columns.min() + columns.max()) / 2 - 100) <= 1  # centred again


def test_folder_masks_have_each_image_size_and_post_processing_drops_a_speck(tmp_path):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    speckled = disc_image(300, 400, 60, centre=(150, 200))
    speckled[10:30, 10:30] = 255  # a bright speck apart from the lesion (3 pixels of the 64 px input)
    Image.fromarray(speckled).save(images / "a.png")
    Image.fromarray(disc_image(90, 160, 20)).save(images / "sub" / "b.jpg")
    model = BrightIsLesion("squash")
    plain = predict_folder(model, images, tmp_path / "plain")
    cleaned = predict_folder(
        model, images, tmp_path / "cleaned", views=mask_views(D4), postprocess=PostProcess(largest_component=True)
    )
    sizes = [np.asarray(Image.open(p)).shape for p in cleaned]
    assert [p.relative_to(tmp_path / "cleaned").as_posix() for p in cleaned] == [
        "a_segmentation.png",
        "sub/b_segmentation.png",
    ]
    assert sizes == [(300, 400), (90, 160)]
    speck_plain, speck_cleaned = (np.asarray(Image.open(p[0]))[:40, :40] > 0 for p in (plain, cleaned))
    assert speck_plain.any() and not speck_cleaned.any()
    lesion = disc_image(300, 400, 60, centre=(150, 200))[..., 0] > 127
    assert iou(np.asarray(Image.open(cleaned[0])) > 0, lesion) > 0.9


def test_run_prediction_refuses_crop_tta_before_loading_anything(tmp_path):
    with pytest.raises(ConfigError, match="tta.crops is for classification"):
        run_prediction(
            str(tmp_path / "missing.ckpt"),
            str(tmp_path),
            str(tmp_path / "out"),
            tta={"views": ["identity"], "crops": {"scales": [0.8], "grid": 1}},
        )
