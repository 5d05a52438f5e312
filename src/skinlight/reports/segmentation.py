"""The report/ folder of a segmentation run: per-image scores and overlays of the best and worst cases.

per_image.csv             image_id, lesion_id and its scores (dice, iou, thresholded_jaccard, pixel_acc,
                          precision, recall, specificity, miou_with_background, hd95, asd in pixels, and the
                          empty_truth / empty_prediction flags), at the image's own size as in metrics.json
best_<k>_<image_id>.png   the image with its true lesion border (green) and the predicted one
worst_<k>_<image_id>.png  (red), ranked by dice; the prediction (the test step's TTA and post-processing) is
                          redrawn at the image's size
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from skinlight.data.layouts.images import (
    load_rgb,  # noqa: E402
    read_mask,  # noqa: E402
)
from skinlight.inference.segment import predict_masks  # noqa: E402
from skinlight.metrics.segmentation import MaskScores  # noqa: E402

OVERLAY_SIZE = 512  # images are drawn at least this small side (JPEGs decoded at a reduced scale)


def plot_overlay(image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, title: str, path: Path) -> None:
    """`image` with the borders of `truth` (green) and `prediction` (red), both (H, W) at its size."""
    fig, ax = plt.subplots(figsize=(6, 6 * image.shape[0] / image.shape[1] + 0.4))
    ax.imshow(image)
    h, w = image.shape[:2]
    for mask, colour in ((truth, "lime"), (prediction, "red")):
        if mask.any():  # padded, so that a border along the image's edge is drawn too
            ax.contour(
                np.arange(-1, w + 1),
                np.arange(-1, h + 1),
                np.pad(mask.astype(float), 1),
                levels=[0.5],
                colors=colour,
                linewidths=1.5,
            )
    ax.set(xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5))
    ax.legend(
        handles=[Line2D([], [], color="lime", label="truth"), Line2D([], [], color="red", label="prediction")],
        loc="lower right",
        fontsize=8,
    )
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_segmentation_report(out_dir: Path, model, test_table: pd.DataFrame, cases: int = 4) -> pd.DataFrame:
    """per_image.csv from `model.test_outputs` and overlays of the `cases` best and worst images.

    `test_table` has image_id, path and mask_path for the test images; `model` (a Segmenter with
    its tested weights) redraws the predictions of the overlaid images.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs, files = model.test_outputs, test_table.set_index("image_id")
    lesions = files.loc[outputs["image_id"], "lesion_id"].to_numpy()
    columns = {k: outputs[k] for k in MaskScores.COLUMNS}
    scores = pd.DataFrame({"image_id": outputs["image_id"], "lesion_id": lesions, **columns})
    scores.to_csv(out_dir / "per_image.csv", index=False, float_format="%.6f")
    ranked = scores.sort_values("dice", kind="stable")
    worst, best = ranked.head(cases), ranked.tail(cases).iloc[::-1]
    for name, rows in (("best", best), ("worst", worst)):
        for k, row in enumerate(rows.itertuples(), 1):
            image = load_rgb(files.at[row.image_id, "path"], OVERLAY_SIZE)
            truth = cv2.resize(
                read_mask(files.at[row.image_id, "mask_path"]), image.shape[1::-1], interpolation=cv2.INTER_NEAREST
            )
            prediction = predict_masks(model, [image], views=model.test_views, postprocess=model.test_postprocess)[0]
            title = f"{row.image_id}: dice {row.dice:.3f}, IoU {row.iou:.3f}, HD95 {row.hd95:.1f} px"
            plot_overlay(image, truth, prediction, title, out_dir / f"{name}_{k}_{row.image_id}.png")
    return scores
