"""Segmentation losses: logits (B, 1, H, W) against 0/1 masks of the same shape.

conf/loss/{dice,jaccard,bce,seg_focal}.yaml are smp's DiceLoss, JaccardLoss, SoftBCEWithLogitsLoss
and FocalLoss (mode binary, on logits); conf/loss/bce_dice.yaml is `WeightedSum` of BCE and Dice.
`seg_focal` is named apart from the classification `focal`.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from skinlight.errors import ConfigError

# Loss classes from these modules are segmentation losses (train.py checks the model/loss combination).
SEGMENTATION_LOSS_MODULES = ("segmentation_models_pytorch.losses", __name__)


class WeightedSum(nn.Module):
    """sum over terms of weights[name] * terms[name](logits, target); a weight left out is 1."""

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
