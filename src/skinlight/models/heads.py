"""Image-feature heads: feature map (B, C, h, w) -> feature vector (B, out_features).

A head pools (and may transform) the backbone's feature map; the final linear classifier is not
part of it. The Classifier puts the metadata fusion (`meta=`), if any, between the head and that
classifier, so every head combines with every metadata branch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from skinlight.errors import ConfigError
from skinlight.models.attention import SoftAttention

# "flatten" keeps a 7x7 map (what a stride-32 backbone gives at 224 px), resampled by adaptive
# average pooling at other input sizes, so the classifier's input size does not depend on the image.
FLATTEN_GRID = 7
POOLS = ("avg", "max", "flatten")


def _pool(name: str) -> tuple[nn.Sequential, int]:
    """Global pooling by name -> (module giving (B, C * factor), factor)."""
    if name == "avg":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), 1
    if name == "max":
        return nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten()), 1
    if name == "flatten":
        return nn.Sequential(nn.AdaptiveAvgPool2d(FLATTEN_GRID), nn.Flatten()), FLATTEN_GRID**2
    raise ConfigError(f"head.pool={name!r} is not one of {list(POOLS)}")


class LinearHead(nn.Module):
    """Global pooling -> dropout (the plain timm head; the classifier follows)."""

    def __init__(self, in_features: int, dropout: float = 0.0, pool: str = "avg"):
        super().__init__()
        self.pool, factor = _pool(pool)
        self.drop = nn.Dropout(dropout)
        self.out_features = in_features * factor

    def forward(self, features: Tensor) -> Tensor:
        return self.drop(self.pool(features))


class Le2020Head(nn.Module):
    """The modified-ResNet50 head of Le et al. 2020: global average pool -> FC -> ReLU -> dropout 0.5.

    `pool="flatten"` is their "without global average pooling" ablation (the 7x7 map flattened).
    """

    def __init__(self, in_features: int, hidden: int = 512, dropout: float = 0.5, pool: str = "avg"):
        super().__init__()
        self.pool, factor = _pool(pool)
        self.mlp = nn.Sequential(nn.Linear(in_features * factor, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.out_features = hidden

    def forward(self, features: Tensor) -> Tensor:
        return self.mlp(self.pool(features))


class SoftAttentionHead(nn.Module):
    """The soft-attention head of Datta et al. 2021 (used by Nguyen et al. 2022).

    max-pool(t) ++ max-pool(soft-attention(t)) -> ReLU -> dropout 0.5, t being the feature map
    (see skinlight.models.attention.SoftAttention). Both poolings are global, so the head works at
    any input size; the Keras reference code max-pools 2x2 and flattens instead. After each forward,
    `last_maps` holds the K attention maps (B, K, h, w) of the batch (detached), for plotting.
    """

    def __init__(self, in_features: int, maps: int = 16, kernel_size: int = 3, dropout: float = 0.5):
        super().__init__()
        self.attention = SoftAttention(in_features, maps, kernel_size)
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(dropout)
        self.out_features = 2 * in_features
        self.last_maps: Tensor | None = None

    def forward(self, features: Tensor) -> Tensor:
        attended, maps = self.attention(features)
        self.last_maps = maps.detach()
        return self.drop(torch.relu(torch.cat([self.pool(features), self.pool(attended)], dim=1)))
