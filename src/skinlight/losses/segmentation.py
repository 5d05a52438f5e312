"""Segmentation losses: logits (B, 1, H, W) against 0/1 masks of the same shape.

conf/loss/{dice,jaccard,bce,seg_focal}.yaml are smp's DiceLoss, JaccardLoss, SoftBCEWithLogitsLoss
and FocalLoss (mode binary, on logits) through `SmpLoss`; conf/loss/bce_dice.yaml is `WeightedSum` of
BCE and Dice. `seg_focal` is named apart from the classification `focal`. Both classes declare
TASK = "segmentation" (train.py checks it against the model's).
"""

from __future__ import annotations

from collections.abc import Mapping

import segmentation_models_pytorch as smp
from torch import Tensor, nn

from skinlight.errors import ConfigError

SMP_LOSSES = sorted(n for n in dir(smp.losses) if n.endswith("Loss") and isinstance(getattr(smp.losses, n), type))


class SmpLoss(nn.Module):
    """The segmentation-models-pytorch loss `name` (e.g. DiceLoss), built with the other arguments."""

    TASK = "segmentation"

    def __init__(self, name: str, **kwargs):
        super().__init__()
        if name not in SMP_LOSSES:
            raise ConfigError(
                f"loss.name={name!r} is not a segmentation_models_pytorch loss; choose one of {SMP_LOSSES}"
            )
        self.loss = getattr(smp.losses, name)(**kwargs)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.loss(logits, target)


class WeightedSum(nn.Module):
    """sum over terms of weights[name] * terms[name](logits, target); a weight left out is 1."""

    TASK = "segmentation"

    def __init__(self, terms: Mapping[str, nn.Module], weights: Mapping[str, float] | None = None):
        super().__init__()
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(terms))
        if unknown:
            raise ConfigError(f"loss.weights has {unknown}, which are not among loss.terms {sorted(terms)}")
        self.terms = nn.ModuleDict(terms)
        self.weights = {name: float(weights.get(name, 1.0)) for name in terms}

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return sum(self.weights[name] * term(logits, target) for name, term in self.terms.items())
