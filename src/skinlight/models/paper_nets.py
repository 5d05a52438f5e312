"""The papers' own networks, registered as timm models and trained from scratch.

    albawi_cnn    Albawi et al. 2022, the 15-layer CNN of their Table 1 (224 x 224 input)
    albawi_mlp    Albawi et al. 2022, the 9-layer MLP of their Table 2 (224 x 224 input)
    deepconvnet   Elgohary et al. 2024, DeepConvNet (28 x 28 input)

Importing this module registers them, so `timm.create_model("deepconvnet", num_classes=7)` is the
whole paper network (logits; the papers' softmax is in the loss) and skinlight's create_backbone
(num_classes=0) gives it without its last layer: `forward_features` returns the last hidden
dense layer as a (B, num_features, 1, 1) map, so `head=linear` adds the paper's output layer back
and any other head or metadata branch composes as with a timm backbone. `img_size` sizes the
flatten layer (the backbone configs pass data.image_size). There are no pretrained weights;
inputs are scaled to [0, 1] (mean 0, std 1), as the papers' Keras `rescale=1/255`.

The layer tables of the papers were not available when this was written; what the issue states is
followed exactly (Elgohary: conv 16-32-64-128 with max-pooling, dense 64-32, softmax; Albawi:
15 layers / 9 layers counted Keras-style, 224 x 224 input). Assumed where unstated: 3 x 3
convolutions with "same" padding and ReLU, 2 x 2 max-pooling after every convolution, and the
widths and dropout rates given in each class's docstring.
"""

from __future__ import annotations

import math

import torch
from timm.layers import to_2tuple
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import Tensor, nn

from skinlight.errors import ConfigError


def _conv_pool(widths: tuple[int, ...]) -> list[nn.Module]:
    """[3x3 conv (same) -> ReLU -> 2x2 max-pool] for each consecutive pair of `widths`."""
    layers: list[nn.Module] = []
    for cin, cout in zip(widths, widths[1:]):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return layers


def _dense(widths: tuple[int, ...], dropout: float = 0.0) -> list[nn.Module]:
    """[Linear -> ReLU (-> Dropout)] for each consecutive pair of `widths`."""
    layers: list[nn.Module] = []
    for cin, cout in zip(widths, widths[1:]):
        layers += [nn.Linear(cin, cout), nn.ReLU(inplace=True)] + ([nn.Dropout(dropout)] if dropout else [])
    return layers


def _flat_size(name: str, layers: list[nn.Module], input_size: tuple[int, int, int]) -> int:
    """Number of values `layers` (ending in Flatten) give for one image of `input_size` (C, H, W)."""
    try:
        with torch.no_grad():
            return nn.Sequential(*layers)(torch.zeros(1, *input_size)).shape[1]
    except RuntimeError as e:
        raise ConfigError(
            f"backbone {name} cannot take {input_size[1]} px images (too small for its "
            f"pooling layers): raise data.image_size"
        ) from e


class PaperNet(nn.Module):
    """`trunk`: image -> last hidden layer (B, num_features); `fc`: the output layer (num_classes=0: none).

    `input_size` (C, H, W) is the one input size the trunk takes.
    """

    def __init__(self, trunk: nn.Sequential, num_features: int, num_classes: int, input_size: tuple[int, int, int]):
        super().__init__()
        self.trunk, self.num_features, self.input_size = trunk, num_features, input_size
        self.fc = nn.Linear(num_features, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: Tensor) -> Tensor:
        return self.trunk(x)[:, :, None, None]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = x.flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


class AlbawiCNN(PaperNet):
    """15 layers: 5 x [conv 3x3 (32, 64, 128, 128, 256), max-pool 2x2], dropout 0.25, flatten,
    dense 256, dropout 0.5, dense num_classes (softmax). Widths and dropout rates are assumed."""

    def __init__(self, num_classes: int = 2, in_chans: int = 3, img_size=224):
        input_size = (in_chans, *to_2tuple(img_size))
        convs = [*_conv_pool((in_chans, 32, 64, 128, 128, 256)), nn.Dropout(0.25), nn.Flatten()]
        flat = _flat_size("albawi_cnn", convs, input_size)
        super().__init__(nn.Sequential(*convs, *_dense((flat, 256), dropout=0.5)), 256, num_classes, input_size)


class AlbawiMLP(PaperNet):
    """9 layers: flatten, dense 256, dropout, dense 128, dropout, dense 64, dropout, dense 32,
    dense num_classes (softmax). Widths and the dropout rate (0.2) are assumed."""

    def __init__(self, num_classes: int = 2, in_chans: int = 3, img_size=224):
        input_size = (in_chans, *to_2tuple(img_size))
        layers = [nn.Flatten(), *_dense((math.prod(input_size), 256, 128, 64), dropout=0.2), *_dense((64, 32))]
        super().__init__(nn.Sequential(*layers), 32, num_classes, input_size)


class DeepConvNet(PaperNet):
    """Elgohary et al. 2024: 4 x [conv 3x3 (16, 32, 64, 128), max-pool 2x2], flatten, dense 64,
    dense 32, dense num_classes (softmax). At 28 x 28 the last map is 1 x 1 x 128."""

    def __init__(self, num_classes: int = 7, in_chans: int = 3, img_size=28):
        input_size = (in_chans, *to_2tuple(img_size))
        convs = [*_conv_pool((in_chans, 16, 32, 64, 128)), nn.Flatten()]
        flat = _flat_size("deepconvnet", convs, input_size)
        super().__init__(nn.Sequential(*convs, *_dense((flat, 64, 32))), 32, num_classes, input_size)


def _cfg(size: int, num_classes: int, paper: str) -> dict:
    return {
        "num_classes": num_classes,
        "input_size": (3, size, size),
        "fixed_input_size": True,
        "mean": (0.0, 0.0, 0.0),
        "std": (1.0, 1.0, 1.0),
        "classifier": "fc",
        "paper_name": paper,
    }


default_cfgs = generate_default_cfgs(
    {
        "albawi_cnn": _cfg(224, 2, "Albawi et al. 2022, Table 1"),
        "albawi_mlp": _cfg(224, 2, "Albawi et al. 2022, Table 2"),
        "deepconvnet": _cfg(28, 7, "Elgohary et al. 2024"),
    }
)


def _create(cls: type[PaperNet], variant: str, pretrained: bool, **kwargs) -> PaperNet:
    # global_pool is dropped: these nets flatten instead of pooling
    model = build_model_with_cfg(cls, variant, pretrained, kwargs_filter=("global_pool",), **kwargs)
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": model.input_size}  # this instance's size
    return model


@register_model
def albawi_cnn(pretrained: bool = False, **kwargs) -> PaperNet:
    return _create(AlbawiCNN, "albawi_cnn", pretrained, **kwargs)


@register_model
def albawi_mlp(pretrained: bool = False, **kwargs) -> PaperNet:
    return _create(AlbawiMLP, "albawi_mlp", pretrained, **kwargs)


@register_model
def deepconvnet(pretrained: bool = False, **kwargs) -> PaperNet:
    return _create(DeepConvNet, "deepconvnet", pretrained, **kwargs)
