"""Segmentation losses: logits (B, 1, H, W) against 0/1 masks of the same shape.

conf/loss/{dice,jaccard,bce,seg_focal,lovasz,tversky}.yaml are smp's DiceLoss, JaccardLoss,
SoftBCEWithLogitsLoss, FocalLoss, LovaszLoss (the Lovasz hinge) and TverskyLoss (mode binary, on logits) through
`SmpLoss`; conf/loss/boundary.yaml is MONAI's HausdorffDTLoss (a boundary-aware loss: errors weighted by their
squared distance to the boundaries, Karimi and Salcudean 2019) through `MonaiLoss`; conf/loss/bce_dice.yaml and
dice_boundary.yaml are `WeightedSum`s of two of them. `seg_focal` is named apart from the classification `focal`.
Each class declares TASK = "segmentation" (train.py checks it against the model's).
"""

from __future__ import annotations

from collections.abc import Mapping

import monai.losses
import segmentation_models_pytorch as smp
from torch import Tensor, nn

from skinlight.errors import ConfigError


def _losses(module) -> list[str]:
    return sorted(n for n in dir(module) if n.endswith("Loss") and isinstance(getattr(module, n), type))


class SmpLoss(nn.Module):
    """The segmentation-models-pytorch loss `name` (e.g. DiceLoss), built with the other arguments."""

    TASK = "segmentation"
    LIBRARY = smp.losses

    def __init__(self, name: str, **kwargs):
        super().__init__()
        if name not in _losses(self.LIBRARY):
            raise ConfigError(
                f"loss.name={name!r} is not a {self.LIBRARY.__name__} loss; choose one of {_losses(self.LIBRARY)}"
            )
        self.loss = getattr(self.LIBRARY, name)(**kwargs)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.loss(logits, target)


class MonaiLoss(SmpLoss):
    """The MONAI loss `name` (e.g. HausdorffDTLoss), built with the other arguments (sigmoid=true for logits)."""

    LIBRARY = monai.losses


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
