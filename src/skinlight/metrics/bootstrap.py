"""Bootstrap intervals that resample lesions, not images: images of one lesion are not independent.

A resample draws as many groups (lesions) as the test set has, with replacement, and keeps every
image of each drawn group. It is held as draw counts, weights[r, i] = how often the group of image i
was drawn in resample r, so that a statistic is computed for all resamples at once: weighted
confusion matrices (accuracy, balanced accuracy, macro F1, per-class recall), a weighted
Mann-Whitney count (AUROC) and weighted means (per-image segmentation scores). With unit weights
each is the plain statistic (tests hold them to torchmetrics' values). Where a resample lacks a
class, the class means skip it (balanced accuracy over the classes present, as the ISIC scorer).

Intervals are percentile intervals of the resampled statistic. A paired comparison of two models on
the same images uses the same resamples for both (skinlight.evaluation.compare).

metrics.json gets, for each headline metric m, <prefix>m_ci_low and <prefix>m_ci_high, plus
<prefix>ci_level, <prefix>ci_resamples and <prefix>ci_groups (the number of lesions resampled).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skinlight.errors import ConfigError
from skinlight.metrics.classification import SCREENED_CLASSES

INTERVAL_ENDS = ("_ci_low", "_ci_high")  # <metric><end>: the keys of its interval
CLASSIFICATION_HEADLINE = ("balanced_acc", "acc", "f1_macro", "auroc_macro")
SEGMENTATION_HEADLINE = ("dice", "iou", "thresholded_jaccard")


@dataclass(frozen=True)
class Bootstrap:
    """`resamples` grouped resamples at `level`, drawn from `seed` (resamples=0: no intervals)."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 0:
            raise ConfigError(f"intervals.resamples={self.resamples}: give a whole number >= 0 (0: no intervals)")
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float)) or not 0 < self.level < 1:
            raise ConfigError(f"intervals.level={self.level}: give a coverage between 0 and 1, e.g. 0.95")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"intervals.seed={self.seed}: give a whole number")

    @classmethod
    def from_config(cls, config) -> Bootstrap:
        """The `intervals` config node (resamples, level, seed; missing keys take the defaults)."""
        unknown = sorted(set(config or {}) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"intervals.{unknown[0]}: unknown key; intervals has resamples, level, seed")
        return cls(**(config or {}))

    def weights(self, groups: Sequence) -> np.ndarray:
        """(resamples, images) draw counts of each image's group (see the module docstring)."""
        codes, unique = _codes(groups)
        n, draws = (
            len(unique),
            np.random.default_rng(self.seed).integers(len(unique), size=(self.resamples, len(unique))),
        )
        counts = np.bincount((draws + n * np.arange(self.resamples)[:, None]).ravel(), minlength=self.resamples * n)
        return counts.reshape(self.resamples, n)[:, codes].astype(float)

    def interval(self, samples: np.ndarray) -> tuple[float, float]:
        """The percentile interval of resampled values (resamples where the statistic is undefined are skipped)."""
        defined = samples[~np.isnan(samples)]
        if not len(defined):  # e.g. the recall of a class the images lack
            return float("nan"), float("nan")
        low, high = np.quantile(defined, [(1 - self.level) / 2, (1 + self.level) / 2])
        return float(low), float(high)

    def record(self, samples: dict[str, np.ndarray], groups: Sequence, prefix: str) -> dict[str, float]:
        """metrics.json's interval keys for the resampled statistics `samples`."""
        out = {f"{prefix}ci_level": self.level, f"{prefix}ci_resamples": self.resamples}
        out[f"{prefix}ci_groups"] = len(_codes(groups)[1])
        for name, values in samples.items():
            out.update(zip((f"{prefix}{name}{end}" for end in INTERVAL_ENDS), self.interval(values)))
        return out


def _codes(groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    unique, codes = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    if not len(unique):
        raise ValueError("no images to resample")
    return codes, unique


def _nan_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def confusion(weights: np.ndarray, labels: np.ndarray, preds: np.ndarray, n: int) -> np.ndarray:
    """(R, n, n) weighted confusion matrices, [r, true, predicted]."""
    cells = np.zeros((len(labels), n * n))
    cells[np.arange(len(labels)), np.asarray(labels) * n + np.asarray(preds)] = 1
    return (weights @ cells).reshape(-1, n, n)


def auroc(weights: np.ndarray, scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """(R,) weighted one-vs-rest AUROC: P(score of a positive > score of a negative), ties counting one half."""
    order = np.argsort(scores, kind="stable")
    sorted_scores, positive = scores[order], np.asarray(positive, bool)[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])  # one bucket per distinct score
    w = weights[:, order]
    pos = np.add.reduceat(w * positive, starts, axis=1)
    neg = np.add.reduceat(w * ~positive, starts, axis=1)
    wins = (pos * (np.cumsum(neg, axis=1) - neg + neg / 2)).sum(1)
    return _nan_divide(wins, pos.sum(1) * neg.sum(1))


def _mean_over_classes(values: np.ndarray) -> np.ndarray:
    defined = ~np.isnan(values)
    return _nan_divide(np.where(defined, values, 0).sum(1), defined.sum(1))


def confusion_samples(weights: np.ndarray, labels: np.ndarray, preds: np.ndarray, class_names) -> dict:
    """Balanced accuracy, accuracy, macro F1 and recall_<screened class> of each resample, (R,) each."""
    names = list(class_names)
    cm = confusion(weights, labels, preds, len(names))
    tp, support, predicted = np.diagonal(cm, axis1=1, axis2=2), cm.sum(2), cm.sum(1)
    recall = _nan_divide(tp, support)
    samples = {
        "balanced_acc": _mean_over_classes(recall),
        "acc": _nan_divide(tp.sum(1), cm.sum((1, 2))),
        "f1_macro": _mean_over_classes(_nan_divide(2 * tp, support + predicted)),
    }
    screened = next((c for c in SCREENED_CLASSES if c in names), None)
    if screened:
        samples[f"recall_{screened}"] = recall[:, names.index(screened)]
    return samples


def classification_samples(weights: np.ndarray, probs: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """The headline metrics (CLASSIFICATION_HEADLINE and recall_<screened class>) of each resample, (R,) each."""
    labels = np.asarray(labels)
    samples = confusion_samples(weights, labels, probs.argmax(1), class_names)
    per_class = [auroc(weights, probs[:, c], labels == c) for c in range(probs.shape[1])]
    samples["auroc_macro"] = _mean_over_classes(np.stack(per_class, axis=1))
    return {**{m: samples.pop(m) for m in CLASSIFICATION_HEADLINE}, **samples}  # recall_<screened> last


def mean_samples(weights: np.ndarray, scores: dict[str, np.ndarray]) -> dict:
    """The weighted mean of each per-image score (segmentation's Dice, IoU, ...) in each resample."""
    total = weights.sum(1)
    return {name: _nan_divide(weights @ np.asarray(values, float), total) for name, values in scores.items()}


def classification_intervals(
    bootstrap: Bootstrap, probs: np.ndarray, labels: np.ndarray, groups: Sequence, class_names, prefix: str
) -> dict[str, float]:
    """metrics.json's interval keys of a classifier's (N, C) test probabilities; {} with resamples=0."""
    if not bootstrap.resamples:
        return {}
    samples = classification_samples(bootstrap.weights(groups), probs, labels, class_names)
    return bootstrap.record(samples, groups, prefix)


def segmentation_intervals(
    bootstrap: Bootstrap, scores: dict[str, np.ndarray], groups: Sequence, prefix: str
) -> dict[str, float]:
    """metrics.json's interval keys of per-image segmentation scores (SEGMENTATION_HEADLINE); {} with resamples=0."""
    if not bootstrap.resamples:
        return {}
    samples = mean_samples(bootstrap.weights(groups), {k: scores[k] for k in SEGMENTATION_HEADLINE})
    return bootstrap.record(samples, groups, prefix)
