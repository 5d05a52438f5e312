"""Soft attention (Datta et al. 2021) in its intended form, and where the head reads the backbone."""

import pytest
import torch

from skinlight.errors import ConfigError
from skinlight.models.attention import SoftAttention
from skinlight.models.classifier import Classifier
from skinlight.models.heads import SoftAttentionHead

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def _classifier(backbone: str, **kwargs) -> Classifier:
    return Classifier(
        backbone={"name": backbone},
        head={"_target_": "skinlight.models.heads.SoftAttentionHead"},
        loss={"_target_": "skinlight.losses.classification.CrossEntropy"},
        optimizer={"_target_": "torch.optim.Adam"},
        class_names=CLASSES,
        **kwargs,
    ).eval()


def test_attention_weights_sum_to_one_over_positions_for_each_map():
    torch.manual_seed(0)
    attention = SoftAttention(channels=24, maps=16)
    attended, maps = attention(torch.randn(3, 24, 5, 7))
    assert maps.shape == (3, 16, 5, 7) and attended.shape == (3, 24, 5, 7)
    assert (maps >= 0).all()
    torch.testing.assert_close(maps.sum(dim=(2, 3)), torch.ones(3, 16))
    assert attention.gamma.item() == 1.0 and attention.gamma.requires_grad


def test_attended_map_is_gamma_times_features_times_summed_maps():
    attention = SoftAttention(channels=8, maps=4)
    with torch.no_grad():
        attention.gamma.fill_(0.5)
    t = torch.randn(2, 8, 3, 3)
    attended, maps = attention(t)
    torch.testing.assert_close(attended, 0.5 * t * maps.sum(1, keepdim=True))


def test_maps_and_logits_depend_on_every_channel():
    """The Keras reference code's maps see channels 0..2 only; here each channel moves them."""
    torch.manual_seed(0)
    channels = 12
    head = SoftAttentionHead(channels).eval()
    classifier = torch.nn.Linear(head.out_features, 7)
    t = torch.randn(2, channels, 6, 6)
    logits = classifier(head(t))
    maps = head.last_maps
    for c in range(channels):
        perturbed = t.clone()
        perturbed[:, c] += torch.randn(2, 6, 6)
        moved = classifier(head(perturbed))
        assert not torch.allclose(head.last_maps, maps), f"attention maps ignore channel {c}"
        assert not torch.allclose(moved, logits), f"logits ignore channel {c}"


def test_only_the_attention_branch_sees_a_channel_through_the_maps():
    """Channel c>2 changes the attended features of *other* channels (via the maps)."""
    torch.manual_seed(0)
    attention = SoftAttention(channels=6, maps=16)
    t = torch.randn(1, 6, 4, 4)
    attended, _ = attention(t)
    perturbed = t.clone()
    perturbed[:, 5] += torch.randn(4, 4)
    moved, _ = attention(perturbed)
    assert not torch.allclose(moved[:, 0], attended[:, 0])


def test_even_kernel_is_refused():
    with pytest.raises(ConfigError, match="head.kernel_size must be odd"):
        SoftAttention(channels=4, kernel_size=2)


@pytest.mark.parametrize("backbone", ["test_resnet", "test_efficientnet"])
def test_soft_attention_head_on_timm_backbones(backbone):
    model = _classifier(backbone)
    image = torch.randn(2, 3, 64, 64)
    logits = model(image)
    fmap = model.feature_map(image)
    assert logits.shape == (2, 7)
    assert model.head.last_maps.shape == (2, 16, *fmap.shape[2:])
    assert fmap.shape[1] == model.backbone.num_features


@pytest.mark.parametrize(
    "backbone, at, channels", [("test_resnet", -2, 192), ("test_resnet", "layer3", 192), ("test_efficientnet", 2, 32)]
)
def test_insertion_point_at_an_earlier_stage(backbone, at, channels):
    model = _classifier(backbone, features_at=at)
    fmap = model.feature_map(torch.randn(2, 3, 64, 64))
    assert fmap.shape[1] == channels and fmap.shape[2] > 2  # earlier stage: larger map than the final 2x2
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    if backbone == "test_resnet":  # the layers after the tap are gone
        assert not any(name.startswith("layer4") for name, _ in model.backbone.named_parameters())


@pytest.mark.parametrize(
    "at, message",
    [
        (7, r"model.features_at=7 is not a stage of test_resnet; stages: 0 act1"),
        ("layer9", r"model.features_at='layer9' is not a module of test_resnet"),
    ],
)
def test_bad_insertion_point_is_one_clear_error(at, message):
    with pytest.raises(ConfigError, match=message):
        _classifier("test_resnet", features_at=at)
