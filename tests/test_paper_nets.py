"""The papers' own networks as timm models: shapes at the paper sizes, backbone use, training from scratch."""

import pytest
import timm
import torch

from skinlight.errors import ConfigError
from skinlight.models.backbones import create_backbone, normalization

NETS = [("albawi_cnn", 224, 2, 64), ("albawi_mlp", 224, 2, 32), ("deepconvnet", 28, 7, 32)]


@pytest.mark.parametrize("name, size, classes, features", NETS)
def test_whole_network_and_backbone_at_the_paper_size(name, size, classes, features):
    assert timm.is_model(name) and timm.get_pretrained_cfg(name).input_size == (3, size, size)
    with torch.device("meta"):  # shapes only, nothing allocated (albawi_mlp has 311 M parameters)
        full = timm.create_model(name)  # the paper's network, output layer included
        assert full(torch.randn(2, 3, size, size)).shape == (2, classes)
        backbone = create_backbone(name, img_size=size)  # what backbone=<name> builds: no output layer
        assert backbone.num_features == features
        assert backbone.forward_features(torch.randn(2, 3, size, size)).shape == (2, features, 1, 1)
    assert normalization(name) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # inputs scaled to [0, 1]


def test_input_too_small_is_one_clear_error():
    with pytest.raises(ConfigError, match="backbone deepconvnet cannot take 8 px images"):
        create_backbone("deepconvnet", img_size=8)


@pytest.mark.parametrize("name, size", [("deepconvnet", 28), ("albawi_cnn", 32), ("albawi_mlp", 16)])
def test_trainable_from_scratch(name, size):
    """Gradients reach every layer, and a few Adam steps fit a small batch (bright images = class 1)."""
    torch.manual_seed(0)
    net = timm.create_model(name, num_classes=2, img_size=size)
    labels = torch.arange(8) % 2
    images = 0.5 * torch.rand(8, 3, size, size) + 0.5 * labels[:, None, None, None]

    def loss() -> torch.Tensor:
        return torch.nn.functional.cross_entropy(net(images), labels)

    with torch.no_grad():
        before = loss().item()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for step in range(20):
        optimizer.zero_grad()
        loss().backward()
        if step == 0:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        optimizer.step()
    net.eval()
    with torch.no_grad():
        assert loss().item() < 0.75 * before
