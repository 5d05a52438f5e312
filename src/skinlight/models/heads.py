"""Classification heads: feature map (B, C, h, w) -> logits (B, num_classes)."""

from __future__ import annotations

from torch import Tensor, nn

POOLS = {"avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}


def _pool(name: str) -> nn.Sequential:
    if name not in POOLS:
        from skinlight.errors import ConfigError

        raise ConfigError(f"head.pool={name!r} is not one of {sorted(POOLS)}")
    return nn.Sequential(POOLS[name](1), nn.Flatten())


class LinearHead(nn.Module):
    """Global pooling -> dropout -> linear classifier (the plain timm head)."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0, pool: str = "avg"):
        super().__init__()
        self.pool, self.drop, self.fc = _pool(pool), nn.Dropout(dropout), nn.Linear(in_features, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        return self.fc(self.drop(self.pool(features)))


class Le2020Head(nn.Module):
    """The modified-ResNet50 head of Le et al. 2020: global average pool -> FC -> dropout 0.5 -> FC."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 512, dropout: float = 0.5,
                 pool: str = "avg"):
        super().__init__()
        self.pool = _pool(pool)
        self.mlp = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        return self.mlp(self.pool(features))
