"""Per-image segmentation scores, averaged over images (the ISIC 2018 Task 1 way).

From the pixel counts tp, fp, tn, fn of each image's thresholded prediction (torchmetrics'
samplewise BinaryStatScores): dice 2tp / (2tp + fp + fn), iou tp / (tp + fp + fn) (= dice / (2 - dice)),
thresholded_jaccard (iou, or 0 below 0.65: the ISIC 2018 score), pixel_acc, precision tp / (tp + fp),
recall tp / (tp + fn), specificity tn / (tn + fp), and miou_with_background, the mean of the lesion's
and the background's IoU, (iou + tn / (tn + fp + fn)) / 2: the IoU "averaged with the background class" that some papers
report (Keras' MeanIoU(num_classes=2), which pools the pixels of all images instead of averaging
per image); it can exceed dice where the background is most of the image, the lesion IoU cannot.
A ratio 0/0 (nothing to find and nothing found) scores 1. dice, iou, thresholded_jaccard, pixel_acc,
recall and specificity are the official scorer's (`isic-challenge-scoring segmentation`) dice,
jaccard, threshold_jaccard, accuracy, sensitivity and specificity, 0/0 conventions included.
MaskScores adds the boundary distances hd95 and asd (skinlight.metrics.surface) for masks of any size.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import BinaryStatScores

from skinlight.metrics.surface import surface_distances

SCORES = (
    "dice",
    "iou",
    "thresholded_jaccard",
    "pixel_acc",
    "precision",
    "recall",
    "specificity",
    "miou_with_background",
)
JACCARD_THRESHOLD = 0.65
SURFACE_SCORES = ("hd95", "asd")
EMPTY_FLAGS = ("empty_truth", "empty_prediction")


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    return torch.where(den > 0, num / den.clamp(min=1), torch.ones_like(num))


def per_image_scores(stats: Tensor, jaccard_threshold: float = JACCARD_THRESHOLD) -> dict[str, Tensor]:
    """Scores of each image from its (tp, fp, tn, fn, ...) row of `stats` (N, >=4)."""
    tp, fp, tn, fn = stats[:, :4].float().unbind(1)
    iou = _ratio(tp, tp + fp + fn)
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": iou,
        "thresholded_jaccard": torch.where(iou >= jaccard_threshold, iou, torch.zeros_like(iou)),
        "pixel_acc": (tp + tn) / (tp + fp + tn + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "miou_with_background": (iou + _ratio(tn, tn + fp + fn)) / 2,
    }


class SegmentationScores(BinaryStatScores):
    """Update with (probabilities (B, 1, H, W), masks (B, 1, H, W)); compute() gives the mean of
    each score in SCORES over all images, per_image() the (unsynchronised) per-image values."""

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(threshold=threshold, multidim_average="samplewise", **kwargs)

    def update(self, preds: Tensor, target: Tensor) -> None:
        super().update(preds, target.long())

    def per_image(self) -> dict[str, Tensor]:
        return per_image_scores(super().compute())

    def compute(self) -> dict[str, Tensor]:
        return {k: v.mean() for k, v in self.per_image().items()}


class MaskScores(Metric):
    """Per-image scores of boolean masks, each at its own size (one image per update): SCORES, SURFACE_SCORES
    (pixels) and the EMPTY_FLAGS (1 where the ground truth or the prediction is empty). compute() gives the mean
    of every score over the images and the number of empty truths and predictions (empty_truths,
    empty_predictions); per_image() every image's values. Synchronised across processes (the rows concatenate)."""

    full_state_update = False
    COLUMNS = (*SCORES, *SURFACE_SCORES, *EMPTY_FLAGS)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("rows", default=[], dist_reduce_fx="cat")

    def update(self, pred: Tensor, true: Tensor) -> None:
        """Add one image: its predicted and ground-truth (H, W) masks."""
        pred, true = pred.bool(), true.bool()
        stats = torch.stack([(pred & true).sum(), (pred & ~true).sum(), (~pred & ~true).sum(), (~pred & true).sum()])
        overlap = per_image_scores(stats[None])
        surface = surface_distances(pred, true)
        empty = (float(not true.any()), float(not pred.any()))
        row = [*(overlap[k][0].item() for k in SCORES), *surface, *empty]
        self.rows.append(torch.tensor([row], dtype=torch.float64, device=self.device))

    def per_image(self) -> dict[str, Tensor]:
        rows = torch.cat(self.rows) if isinstance(self.rows, list) else self.rows
        return dict(zip(self.COLUMNS, rows.reshape(-1, len(self.COLUMNS)).unbind(1)))

    def compute(self) -> dict[str, Tensor]:
        values = self.per_image()
        means = {k: values[k].mean() for k in (*SCORES, *SURFACE_SCORES)}
        return means | {f"{k}s": values[k].sum() for k in EMPTY_FLAGS}
