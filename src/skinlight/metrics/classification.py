"""Classification metrics (torchmetrics) under the run-directory contract's names.

Keys: acc, balanced_acc (mean per-class recall over the classes the targets hold, the ISIC 2018 Task 3
metric as the official scorer computes it), f1_macro,
precision_macro, recall_macro, auroc_macro, top2_acc, top3_acc (when there are more classes than
k), ece, balanced_acc_ovr (mean over classes of one-vs-rest (sensitivity + specificity) / 2, the
"balanced accuracy" of Nguyen et al. 2022), and per class recall_<cls>, precision_<cls>, f1_<cls>,
specificity_<cls>, auroc_<cls>; with more than two classes also ovr_sensitivity_<cls> and
ovr_specificity_<cls>, the official ISIC scorer's per-category rates: P(cls) > 0.5 against "is cls"
(not the argmax; strictly above 0.5, as the scorer's `gt(0.5)` and torchmetrics' thresholding), 1.0
where a class has no positive (sensitivity) or no negative (specificity) image, the scorer's "freebie".
With two classes (benign, malignant) also sensitivity, specificity and auroc of the second,
positive class. With a "mel" (or two-class "malignant") class also sensitivity_at_<80|90|95>spec_<cls>:
its sensitivity at the operating point of at least that specificity (one-vs-rest), the clinical
operating points of a melanoma screen.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryRecall,
    BinarySensitivityAtSpecificity,
    BinarySpecificity,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
    MulticlassSpecificity,
    MulticlassStatScores,
    MultilabelStatScores,
)
from torchmetrics.utilities.data import dim_zero_cat
from torchmetrics.wrappers import ClasswiseWrapper, LambdaInputTransformer


def positive_probability(probs: Tensor) -> Tensor:
    """P(second class) of two-class probabilities (N, 2), the input of the binary metrics."""
    return probs[:, 1]


# The columns of the Table VII layout (eval.py's table.md), balanced accuracy last.
TABLE_METRICS = (
    "acc",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "top2_acc",
    "top3_acc",
    "auroc_macro",
    "balanced_acc",
)
SPECIFICITY_POINTS = (0.80, 0.90, 0.95)
SCREENED_CLASSES = ("mel", "malignant")  # the first one present gets sensitivity_at_<spec>spec_<cls>


def class_probability(probs: Tensor, index: int) -> Tensor:
    """P(class `index`) of (N, C) probabilities: the one-vs-rest input of a binary metric."""
    return probs[:, index]


def is_class(target: Tensor, index: int) -> Tensor:
    """1 where `target` is class `index`, else 0: the one-vs-rest target of a binary metric."""
    return (target == index).long()


class SensitivityAtSpecificity(BinarySensitivityAtSpecificity):
    """Best sensitivity with specificity >= min_specificity (the threshold it needs is dropped)."""

    def compute(self) -> Tensor:
        return super().compute()[0]


class BalancedAccuracy(MulticlassStatScores):
    """Mean recall over the classes present in the targets: the ISIC scorer skips a class no image has, where
    torchmetrics' macro recall counts it as 0 once it is predicted (a test subset lacking a class)."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes, average=None)

    def compute(self) -> Tensor:
        tp, _, _, fn = self._final_state()[:4]
        present = tp + fn > 0
        return (tp[present] / (tp + fn)[present]).mean()


class OneVsRestBalancedAccuracy(MulticlassStatScores):
    """Mean over classes of (sensitivity_c + specificity_c) / 2, each class against the rest."""

    def __init__(self, num_classes: int):
        super().__init__(num_classes, average=None)

    def compute(self) -> Tensor:
        tp, fp, tn, fn = self._final_state()[:4]
        return ((tp / (tp + fn) + tn / (tn + fp)) / 2).nanmean()


class OneVsRestAtHalf(MultilabelStatScores):
    """Per class, the sensitivity or specificity of P(class) > 0.5 against "is the class" (the ISIC
    scorer's per-category rates); 1.0 where the class has no positive (no negative) image.
    Update with (probabilities (N, C), class indices (N,))."""

    def __init__(self, num_classes: int, rate: str):
        super().__init__(num_classes, threshold=0.5, average=None)
        self.rate = rate

    def update(self, probs: Tensor, target: Tensor) -> None:
        super().update(probs, F.one_hot(target, self.num_labels))

    def compute(self) -> Tensor:
        tp, fp, tn, fn = self._final_state()[:4]
        hit, total = (tp, tp + fn) if self.rate == "sensitivity" else (tn, tn + fp)
        return torch.where(total > 0, hit / total.clamp(min=1), 1.0)


class PresentClassAUROC(MulticlassAUROC):
    """One-vs-rest AUROC per class, NaN for a class without a positive image (torchmetrics scores it 0, e.g. a
    class data.classes names but another dataset's test split lacks); `macro`: their mean over the classes present."""

    def __init__(self, num_classes: int, macro: bool):
        super().__init__(num_classes, average=None)
        self.macro = macro

    def compute(self) -> Tensor:
        per_class = super().compute()
        present = torch.bincount(dim_zero_cat(self.target).long(), minlength=self.num_classes) > 0
        per_class = torch.where(present, per_class, torch.nan)
        return per_class.nanmean() if self.macro else per_class


def classification_metrics(class_names, prefix: str) -> MetricCollection:
    """All metrics for `len(class_names)` classes; update with (probabilities, targets)."""
    n, names = len(class_names), list(class_names)
    metrics = {
        "acc": MulticlassAccuracy(n, average="micro"),
        "balanced_acc": BalancedAccuracy(n),
        "f1_macro": MulticlassF1Score(n, average="macro"),
        "precision_macro": MulticlassPrecision(n, average="macro"),
        "recall_macro": MulticlassRecall(n, average="macro"),
        "auroc_macro": PresentClassAUROC(n, macro=True),
        "ece": MulticlassCalibrationError(n, n_bins=15, norm="l1"),
        "balanced_acc_ovr": OneVsRestBalancedAccuracy(n),
    }
    for k in (2, 3):
        if k < n:
            metrics[f"top{k}_acc"] = MulticlassAccuracy(n, top_k=k, average="micro")
    per_class = {
        "recall": MulticlassRecall,
        "precision": MulticlassPrecision,
        "f1": MulticlassF1Score,
        "specificity": MulticlassSpecificity,
        "auroc": partial(PresentClassAUROC, macro=False),
    }
    for name, cls in per_class.items():
        metric = cls(n) if name == "auroc" else cls(n, average=None)
        metrics[f"{name}_per_class"] = ClasswiseWrapper(metric, labels=names, prefix=f"{name}_")
    for rate in ("sensitivity", "specificity") if n > 2 else ():
        metrics[f"ovr_{rate}_per_class"] = ClasswiseWrapper(
            OneVsRestAtHalf(n, rate), labels=names, prefix=f"ovr_{rate}_"
        )
    if n == 2:  # sensitivity = recall, specificity = true negative rate, of the positive class
        for name, metric in {
            "sensitivity": BinaryRecall(),
            "specificity": BinarySpecificity(),
            "auroc": BinaryAUROC(),
        }.items():
            metrics[name] = LambdaInputTransformer(metric, transform_pred=positive_probability)
    screened = next((c for c in SCREENED_CLASSES if c in names), None)
    for spec in SPECIFICITY_POINTS if screened else ():
        metrics[f"sensitivity_at_{round(spec * 100)}spec_{screened}"] = LambdaInputTransformer(
            SensitivityAtSpecificity(min_specificity=spec),
            transform_pred=partial(class_probability, index=names.index(screened)),
            transform_target=partial(is_class, index=names.index(screened)),
        )
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)
