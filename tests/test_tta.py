"""Test-time augmentation views: the dihedral views, ordered multi-crops (conf/tta/multicrop.yaml), their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import CONF_DIR
from torch import nn

from skinlight.errors import ConfigError
from skinlight.inference.tta import VIEWS, build_views, mask_views, predict_probs


def quadrants() -> torch.Tensor:
    """A (1, 1, 4, 4) image whose quadrants are 0 (top left), 1 (top right), 2 (bottom left), 3 (bottom right)."""
    x = torch.zeros(1, 1, 4, 4)
    x[..., :2, 2:], x[..., 2:, :2], x[..., 2:, 2:] = 1, 2, 3
    return x


def tta_option(name: str) -> dict:
    return yaml.safe_load((Path(CONF_DIR) / "tta" / f"{name}.yaml").read_text())


def test_crops_take_their_grid_region_resized_to_the_input():
    views = build_views(["identity", "hflip"], {"scales": [0.5], "grid": 2})
    x = quadrants()
    for value, position in enumerate(("r0c0", "r0c1", "r1c0", "r1c1")):
        assert torch.equal(views[f"crop0.50_{position}"](x), torch.full_like(x, value))
    ramp = torch.arange(64.0).reshape(1, 1, 8, 8)
    crop = build_views(["identity", "hflip"], {"scales": [0.75], "grid": 3})  # 6 x 6 crops at offsets 0, 1, 2

    def resized(region):
        return F.interpolate(region, size=(8, 8), mode="bilinear", antialias=True)

    assert torch.allclose(crop["crop0.75_r2c2"](ramp), resized(ramp[..., 2:8, 2:8]))
    assert torch.allclose(crop["crop0.75_r0c1"](ramp), resized(ramp[..., 0:6, 1:7]))
    assert torch.allclose(crop["crop0.75_r2c2_hflip"](ramp), resized(ramp[..., 2:8, 2:8]).flip(-1))  # crop, then view
    centre = build_views(["identity"], {"scales": [0.5], "grid": 1})["crop0.50_r0c0"]
    assert torch.allclose(centre(ramp), resized(ramp[..., 2:6, 2:6]))


def test_views_are_ordered_identity_first_then_crops_row_by_row():
    names = list(build_views(["hflip", "identity"], {"scales": [0.8, 0.9], "grid": 3}))
    assert names[:6] == [
        "identity",
        "hflip",
        "crop0.80_r0c0",
        "crop0.80_r0c0_hflip",
        "crop0.80_r0c1",
        "crop0.80_r0c1_hflip",
    ]
    assert names[-1] == "crop0.90_r2c2_hflip" and len(names) == 2 * (1 + 2 * 9)
    for option in map(tta_option, ("none", "flips", "d4")):  # no crops: exactly the listed dihedral views
        assert list(build_views(option["views"], option.get("crops"))) == option["views"]
    multicrop = tta_option("multicrop")
    assert len(build_views(multicrop["views"], multicrop["crops"])) == 38  # the count its comment gives


@pytest.mark.parametrize(
    "views, crops, message",
    [
        (["flip"], None, r"^tta.views has \['flip'\]"),
        (["identity"], {"scales": [0.8]}, r"^tta.crops has keys \['scales'\]; give exactly scales"),
        (["identity"], {"scales": [0.8], "grid": 3, "size": 2}, r"^tta.crops has keys"),
        (["identity"], {"scales": [0.0, 1.2], "grid": 3}, r"^tta.crops.scales has \[0.0, 1.2\]: each scale"),
        (["identity"], {"scales": 0.8, "grid": 3}, r"^tta.crops.scales=0.8: give a list"),
        (["identity"], {"scales": [], "grid": 3}, r"^tta.crops.scales=\[\]: give a list"),
        (["identity"], {"scales": [0.801, 0.804], "grid": 3}, r"^tta.crops.scales=.* repeats a scale"),
        (["identity"], {"scales": [0.8], "grid": 0}, r"^tta.crops.grid=0: give the crop positions"),
        (["identity"], {"scales": [0.8], "grid": 1.5}, r"^tta.crops.grid=1.5: give the crop positions"),
    ],
)
def test_bad_tta_options_stop_with_one_line_naming_the_key(views, crops, message):
    with pytest.raises(ConfigError, match=message):
        build_views(views, crops)


class TopLeft(nn.Module):
    """Logits (value of the top-left pixel, 0): what each view shows there."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x, meta=None):
        return torch.stack([self.scale * x[:, 0, 0, 0], torch.zeros(len(x))], 1)


def test_predict_probs_runs_every_view_in_order():
    views = build_views(["identity", "hflip"], {"scales": [0.5], "grid": 2})
    loader = [{"image": quadrants().repeat(3, 1, 1, 1)}]  # one batch of 3 images
    probs = predict_probs(TopLeft(), loader, views)
    assert probs.shape == (len(views), 3, 2)
    top_left = {"identity": 0, "hflip": 1, "crop0.50_r1c1": 3, "crop0.50_r1c0_hflip": 2}
    for name, value in top_left.items():
        assert torch.allclose(probs[list(views).index(name), 0], torch.tensor([value, 0.0]).softmax(0))
    assert torch.equal(predict_probs(TopLeft(), loader, ["identity"]), probs[:1])  # names or a mapping
    assert set(VIEWS) <= set(build_views(list(VIEWS)))


@pytest.mark.parametrize("name", list(VIEWS))
def test_each_mask_view_inverted_is_the_identity(name):
    view, inverse = mask_views(tta_option("d4")["views"])[name]
    x = torch.rand(2, 1, 6, 9)  # not square: a transposing view that is not undone changes the shape
    assert torch.equal(inverse(view(x)), x)
    if name != "identity":
        assert not torch.equal(view(x), x)


def test_mask_tta_of_a_pixelwise_model_is_the_model():
    """A model that sees each pixel alone commutes with every view: its TTA mask, views inverted, equals its
    plain mask; with each view applied again instead of its inverse, the quarter turns misplace it."""
    x = torch.rand(1, 1, 8, 8)
    views = mask_views(tta_option("d4")["views"])
    assert set(views) == set(VIEWS)
    inverted = torch.stack([inverse(torch.sigmoid(view(x))) for view, inverse in views.values()]).mean(0)
    assert torch.allclose(inverted, torch.sigmoid(x))
    uninverted = torch.stack([view(torch.sigmoid(view(x))) for view, _ in views.values()]).mean(0)
    assert not torch.allclose(uninverted, torch.sigmoid(x))


def test_mask_tta_refuses_crops():
    with pytest.raises(ConfigError, match="tta.crops is for classification"):
        mask_views(**{k: v for k, v in tta_option("multicrop").items() if k != "name"})
