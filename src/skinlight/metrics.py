"""Classification metrics (torchmetrics) under the run-directory contract's names.

Keys: acc, balanced_acc (mean per-class recall, the ISIC 2018 Task 3 metric), f1_macro,
precision_macro, recall_macro, auroc_macro, top2_acc, top3_acc (when there are more classes than
k), ece, and per class recall_<cls>, precision_<cls>, f1_<cls>, specificity_<cls>, auroc_<cls>.
With two classes (benign, malignant) also sensitivity, specificity and auroc of the second,
positive class.
"""

from __future__ import annotations

from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (BinaryAUROC, BinaryRecall, BinarySpecificity, MulticlassAccuracy,
                                         MulticlassAUROC, MulticlassCalibrationError, MulticlassF1Score,
                                         MulticlassPrecision, MulticlassRecall, MulticlassSpecificity)
from torchmetrics.wrappers import ClasswiseWrapper, LambdaInputTransformer


def positive_probability(probs: Tensor) -> Tensor:
    """P(second class) of two-class probabilities (N, 2), the input of the binary metrics."""
    return probs[:, 1]


def classification_metrics(class_names, prefix: str) -> MetricCollection:
    """All metrics for `len(class_names)` classes; update with (probabilities, targets)."""
    n, names = len(class_names), list(class_names)
    metrics = {
        "acc": MulticlassAccuracy(n, average="micro"),
        "balanced_acc": MulticlassRecall(n, average="macro"),
        "f1_macro": MulticlassF1Score(n, average="macro"),
        "precision_macro": MulticlassPrecision(n, average="macro"),
        "recall_macro": MulticlassRecall(n, average="macro"),
        "auroc_macro": MulticlassAUROC(n, average="macro"),
        "ece": MulticlassCalibrationError(n, n_bins=15, norm="l1"),
    }
    for k in (2, 3):
        if k < n:
            metrics[f"top{k}_acc"] = MulticlassAccuracy(n, top_k=k, average="micro")
    per_class = {"recall": MulticlassRecall, "precision": MulticlassPrecision, "f1": MulticlassF1Score,
                 "specificity": MulticlassSpecificity, "auroc": MulticlassAUROC}
    for name, cls in per_class.items():
        metrics[f"{name}_per_class"] = ClasswiseWrapper(cls(n, average=None), labels=names, prefix=f"{name}_")
    if n == 2:  # sensitivity = recall, specificity = true negative rate, of the positive class
        for name, metric in {"sensitivity": BinaryRecall(), "specificity": BinarySpecificity(),
                             "auroc": BinaryAUROC()}.items():
            metrics[name] = LambdaInputTransformer(metric, transform_pred=positive_probability)
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)
