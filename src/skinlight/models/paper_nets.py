"""The papers' own networks, registered as timm models and trained from scratch.

    albawi_cnn    Albawi et al. 2022, the 15-layer CNN of their Table 1 (224 x 224 input)
    albawi_mlp    Albawi et al. 2022, the 9-layer MLP of their Table 2 (224 x 224 input)
    deepconvnet   Elgohary et al. 2024, the 12-layer DeepConvNet of their Sec. 2.4 (28 x 28 input)

Importing this module registers them, so `timm.create_model("deepconvnet", num_classes=7)` is the
whole paper network (logits; the papers' softmax is in the loss) and skinlight's create_backbone
(num_classes=0) gives it without its last layer: `forward_features` returns the last hidden
dense layer as a (B, num_features, 1, 1) map, so `head=linear` adds the paper's output layer back
and any other head or metadata branch composes as with a timm backbone. `img_size` sizes the
flatten layer (the backbone configs pass data.image_size). There are no pretrained weights;
inputs are scaled to [0, 1] (mean 0, std 1), as the papers' Keras `rescale=1/255`.

Albawi et al.'s nets are their Tables 1 and 2 row by row: at 224 px with 2 outputs every row's
output shape and parameter count is the table's (the batch-norm row counts its running statistics,
as Keras does). The rows sum to 14,599,106 and 311,080,994 parameters; the totals printed under
the tables (14,672,834 and 627,755,042) are not the sums of their rows, and the rows are followed.
Assumed there (the tables do not show them): the activations and dropout rates of each class's
docstring.

Elgohary et al. describe DeepConvNet in prose only (Sec. 2.4, its Figure 1 is not in the text): its
layers and widths are theirs, the kernel sizes, padding and activations are assumed (its docstring).
"""

from __future__ import annotations

import math
from collections import OrderedDict

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


def _dense(widths: tuple[int, ...]) -> list[nn.Module]:
    """[Linear -> ReLU] for each consecutive pair of `widths`."""
    layers: list[nn.Module] = []
    for cin, cout in zip(widths, widths[1:]):
        layers += [nn.Linear(cin, cout), nn.ReLU(inplace=True)]
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


def _albawi_conv(cin: int, cout: int, groups: int = 1) -> nn.Sequential:
    """A Keras Conv2D(3x3, padding="same", activation="relu") row of Albawi et al.'s Table 1."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, groups=groups), nn.ReLU(inplace=True))


def _albawi_dense(cin: int, cout: int) -> nn.Sequential:
    """A Keras Dense(activation="relu") row of Albawi et al.'s Tables 1 and 2."""
    return nn.Sequential(nn.Linear(cin, cout), nn.ReLU(inplace=True))


class AlbawiCNN(PaperNet):
    """Albawi et al. 2022, Table 1, row by row; the trunk's modules carry the table's layer names and
    `fc` is its "predictions" row. The 15 layers of their count are the rows named layer_*.

    conv 32, pool, batch norm, conv 64, conv 64, pool, dropout, conv 128, conv 128, pool, dropout,
    conv 256, pool, dropout, conv 512, pool, dropout, flatten (25,088 at 224 px), dense 512, dropout,
    dense 128, dropout, dense 64, dropout. Fixed by the table's shapes and counts: 3 x 3 "same"
    convolutions, 2 x 2 pooling, and 2 groups in layer_5-1 (its printed 73,856 parameters for
    128 -> 128 channels); `layer_5_1_groups=1` is the plain convolution (147,584), with which the
    network has the table's printed total, 14,672,834. Assumed (the table shows no rates or
    activations): ReLU, dropout 0.25 after the conv blocks and 0.5 after the dense layers, PyTorch's
    batch-norm defaults.
    """

    def __init__(self, num_classes: int = 2, in_chans: int = 3, img_size=224, layer_5_1_groups: int = 2):
        input_size = (in_chans, *to_2tuple(img_size))
        rows = [
            ("layer_1", _albawi_conv(in_chans, 32)),
            ("layer_2", nn.MaxPool2d(2)),
            ("Batch_normalization", nn.BatchNorm2d(32)),
            ("layer_3", _albawi_conv(32, 64)),
            ("layer_3-1", _albawi_conv(64, 64)),
            ("layer_4", nn.MaxPool2d(2)),
            ("Dropout", nn.Dropout(0.25)),
            ("layer_5", _albawi_conv(64, 128)),
            ("layer_5-1", _albawi_conv(128, 128, layer_5_1_groups)),
            ("layer_6", nn.MaxPool2d(2)),
            ("dropout_1", nn.Dropout(0.25)),
            ("layer_7", _albawi_conv(128, 256)),
            ("layer_8", nn.MaxPool2d(2)),
            ("dropout_2", nn.Dropout(0.25)),
            ("layer_9", _albawi_conv(256, 512)),
            ("layer_10", nn.MaxPool2d(2)),
            ("dropout_3", nn.Dropout(0.25)),
            ("fc_1", nn.Flatten()),
        ]
        # batch norm left out: it keeps the shape, and its running statistics stay untouched
        flat = _flat_size("albawi_cnn", [m for _, m in rows if not isinstance(m, nn.BatchNorm2d)], input_size)
        rows += [
            ("layer_11", _albawi_dense(flat, 512)),
            ("dropout_4", nn.Dropout(0.5)),
            ("layer_12", _albawi_dense(512, 128)),
            ("dropout_5", nn.Dropout(0.5)),
            ("layer_13", _albawi_dense(128, 64)),
            ("dropout_6", nn.Dropout(0.5)),
        ]
        super().__init__(nn.Sequential(OrderedDict(rows)), 64, num_classes, input_size)


class AlbawiMLP(PaperNet):
    """Albawi et al. 2022, Table 2, row by row (the trunk's modules carry the table's layer names,
    `fc` is its "predictions" row): flatten (150,528 at 224 px), dense 2048, dropout, dense 1024,
    512, 256, 128, 64, 32. `hidden` keeps the first 1 ... 7 dense layers (their Figure 9: accuracy
    against the number of hidden layers). Assumed (the table shows no rate or activation): ReLU,
    dropout 0.5.
    """

    WIDTHS = (2048, 1024, 512, 256, 128, 64, 32)
    NAMES = ("lyae_2", "lyae_3", "lyae_4", "lyae_5", "lyae_6", "lyae_7", "Layer_8")  # as printed

    def __init__(self, num_classes: int = 2, in_chans: int = 3, img_size=224, hidden: int = 7):
        if not 1 <= hidden <= len(self.WIDTHS):
            raise ConfigError(f"backbone.hidden={hidden}: albawi_mlp has 1 to {len(self.WIDTHS)} hidden layers")
        input_size = (in_chans, *to_2tuple(img_size))
        widths = (math.prod(input_size), *self.WIDTHS[:hidden])
        rows = [("fc_1", nn.Flatten())]
        for name, cin, cout in zip(self.NAMES, widths, widths[1:]):
            rows.append((name, _albawi_dense(cin, cout)))
            if name == "lyae_2":
                rows.append(("Dropout", nn.Dropout(0.5)))
        super().__init__(nn.Sequential(OrderedDict(rows)), widths[-1], num_classes, input_size)


class DeepConvNet(PaperNet):
    """Elgohary et al. 2024, Sec. 2.4, "twelve layers" counted Keras-style (an activation belongs to
    its layer): conv 16, pool, conv 32, pool, conv 64, pool, conv 128, pool, flatten, dense 64,
    dense 32, dense num_classes (softmax; here in the loss). At 28 x 28 the maps are 28, 14, 7, 3
    and 1 px wide, the flatten 128 values, and with 7 classes the network has 108,007 parameters.

    Assumed (the paper names no kernel size, padding or hidden activation, and no dropout): 3 x 3
    "same" convolutions (with "valid" ones the fourth would get a 1 x 1 map at 28 px), ReLU, 2 x 2
    max-pooling with Keras' default "valid" padding (floor), no dropout.
    """

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
