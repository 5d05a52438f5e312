"""Classification losses: cross-entropy (optionally class-weighted) and focal loss.

`class_weights` / `alpha` accept "balanced" (w_c = N / (C * N_c) on the train split, the
soft-attention paper's weights), an explicit per-class list, or null.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skinlight.errors import ConfigError


def balanced_class_weights(class_counts: Sequence[int]) -> Tensor:
    """w_c = N / (C * N_c); a class absent from the train split is an error (its weight is infinite)."""
    counts = torch.as_tensor(class_counts, dtype=torch.float32)
    if (counts == 0).any():
        raise ConfigError(f"class weights need every class in the train split; counts are {list(class_counts)}")
    return counts.sum() / (len(counts) * counts)


def resolve_weights(spec, class_counts: Sequence[int] | None, key: str) -> Tensor | None:
    """Turn a config value (null, "balanced", a number or a per-class list) into a tensor or None."""
    if spec is None:
        return None
    if spec == "balanced":
        if class_counts is None:
            raise ConfigError(f"{key}=balanced needs the train class counts")
        return balanced_class_weights(class_counts)
    if isinstance(spec, str):
        raise ConfigError(f"{key}={spec!r}: use null, 'balanced', a number or a list with one weight per class")
    weights = torch.as_tensor(spec, dtype=torch.float32)
    if weights.ndim == 1 and class_counts is not None and len(weights) != len(class_counts):
        raise ConfigError(f"{key} has {len(weights)} values for {len(class_counts)} classes")
    return weights


class CrossEntropy(nn.Module):
    """Cross-entropy with optional class weights and label smoothing, of class indices (B,) or soft
    targets (B, C) (Mixup / CutMix, skinlight.models.mixing).

    Soft targets t carry their own smoothing (label_smoothing is not applied to them again). Their
    weighted mean is sum_i sum_c w_c t_ic (-log p_ic) / sum_i sum_c w_c t_ic: the weight of a target is
    its expected class weight, so one-hot targets give exactly the weighted mean of class indices
    (divided by the sum of the targets' weights, as torch does), and without class weights the
    denominator is the batch size. With both class weights and label smoothing, torch divides
    class-index targets by sum_i w_(y_i) instead.
    """

    TASK = "classification"
    SOFT_TARGETS = True  # takes (B, C) targets: Mixup / CutMix can be used with it

    def __init__(self, class_weights=None, label_smoothing: float = 0.0, class_counts=None):
        super().__init__()
        self.register_buffer("weight", resolve_weights(class_weights, class_counts, "loss.class_weights"))
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if target.ndim == 1:
            return F.cross_entropy(logits, target, weight=self.weight, label_smoothing=self.label_smoothing)
        weighted = target if self.weight is None else target * self.weight
        return -(weighted * F.log_softmax(logits, dim=1)).sum() / weighted.sum()


class FocalLoss(nn.Module):
    """FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), averaged over the batch.

    `alpha` is a scalar, a per-class list or "balanced"; gamma=0 and alpha=null is cross-entropy.
    """

    TASK = "classification"

    def __init__(self, gamma: float = 2.0, alpha=None, class_counts=None):
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"loss.gamma must be >= 0, got {gamma}")
        self.gamma = gamma
        self.register_buffer("alpha", resolve_weights(alpha, class_counts, "loss.alpha"))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_pt = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -((1 - log_pt.exp()) ** self.gamma) * log_pt
        if self.alpha is not None:
            loss = loss * (self.alpha[target] if self.alpha.ndim else self.alpha)
        return loss.mean()
