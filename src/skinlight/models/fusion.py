"""Metadata fusion (`meta=`): image features (B, F) + patient metadata (B, M) -> (B, F + H).

A metadata branch maps the metadata vector (skinlight.data.metadata: age scaled on the train
split, a missing-age flag, sex and site one-hot with "unknown" kept) to H features, which are
concatenated with the head's image features before the final classifier.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from skinlight.errors import ConfigError


class MetadataFusion(nn.Module):
    """Concatenate image features with `branch(meta)`; subclasses build the branch."""

    option = ""  # the meta= option name, for messages
    branch: nn.Module
    out_features: int

    def __init__(self, meta_dim: int):
        super().__init__()
        if meta_dim <= 0:
            raise ConfigError(
                f"meta={self.option} needs patient metadata, but the data gives none: set "
                "data.use_metadata=true (on data with age/sex/site, e.g. data=ham10000) or meta=none"
            )

    def forward(self, features: Tensor, meta: Tensor) -> Tensor:
        return torch.cat([features, self.branch(meta)], dim=1)


class NguyenFusion(MetadataFusion):
    """Nguyen et al. 2022: metadata -> Dense(4096, ReLU), concatenated with the image features."""

    option = "nguyen"

    def __init__(self, image_features: int, meta_dim: int, hidden: int = 4096):
        super().__init__(meta_dim)
        self.branch = nn.Sequential(nn.Linear(meta_dim, hidden), nn.ReLU(inplace=True))
        self.out_features = image_features + hidden


class MetadataDropout(nn.Module):
    """In training, set each metadata value to 0 with probability p, without rescaling: a dropped
    value reads as absent, which teaches the model to cope with missing metadata."""

    def __init__(self, p: float = 0.1):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"meta.meta_dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, meta: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return meta
        return meta * (torch.rand_like(meta) >= self.p)


class GessertFusion(MetadataFusion):
    """Gessert et al. 2020 (ISIC 2019): metadata dropout p=0.1 per feature in training, then
    `layers` x [Linear(256), BatchNorm, ReLU, Dropout(0.4)], concatenated with the image features.

    Their full model adds one more dense layer after the concatenation; as specified for skinlight,
    the concatenation feeds the classifier directly.
    """

    option = "gessert"

    def __init__(
        self,
        image_features: int,
        meta_dim: int,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.4,
        meta_dropout: float = 0.1,
    ):
        super().__init__(meta_dim)
        blocks: list[nn.Module] = [MetadataDropout(meta_dropout)]
        for i in range(layers):
            blocks += [
                nn.Linear(meta_dim if i == 0 else hidden, hidden),
                nn.BatchNorm1d(hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            ]
        self.branch = nn.Sequential(*blocks)
        self.out_features = image_features + hidden
