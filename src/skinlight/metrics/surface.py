"""Boundary distances between two binary masks, in pixels of the masks' own resolution (MONAI's metrics).

hd95: the 95th-percentile Hausdorff distance, the larger of the two directed 95th percentiles of the distances
from each edge pixel of one mask to the nearest edge pixel of the other (monai.metrics.compute_hausdorff_distance);
asd: the average symmetric surface distance, the mean of all those distances in both directions
(compute_average_surface_distance, symmetric). A mask's edge is the mask less its erosion by a 4-connected
cross (MONAI's). Empty masks, where MONAI gives NaN, get a number: both empty score 0 (nothing to find, nothing
found), one empty scores the image's diagonal (the largest distance the image holds); MaskScores counts them.
"""

from __future__ import annotations

import math
import warnings

from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance
from torch import Tensor

HD_PERCENTILE = 95


def surface_distances(pred: Tensor, true: Tensor) -> tuple[float, float]:
    """(hd95, asd) of boolean (H, W) masks `pred` and `true`, in pixels."""
    if pred.shape != true.shape:
        raise ValueError(f"masks of different sizes: {tuple(pred.shape)} and {tuple(true.shape)}")
    pred, true = pred.bool(), true.bool()
    if not pred.any() or not true.any():
        worst = 0.0 if pred.any() == true.any() else math.hypot(*pred.shape)
        return worst, worst
    pair = pred[None, None], true[None, None]
    with warnings.catch_warnings():  # MONAI's deprecation notices of arguments skinlight does not pass
        warnings.simplefilter("ignore", FutureWarning)
        hd95 = compute_hausdorff_distance(*pair, include_background=True, percentile=HD_PERCENTILE)
        asd = compute_average_surface_distance(*pair, include_background=True, symmetric=True)
    return float(hd95), float(asd)
