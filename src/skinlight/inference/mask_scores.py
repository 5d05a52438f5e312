"""Predicted masks scored against ground-truth mask files at the images' own size (`predict_masks.py truth=...`).

Each written <output>/<sub-folder>/<stem>_segmentation.png is compared with <truth>/<sub-folder>/<stem>_segmentation.png
(the ISIC 2018 Task 1 naming: the same file name) by skinlight.metrics.segmentation, both binarised at > 128 as
the official scorer does. Beside the output folder (the run directory by default) go scores.csv (one row per
mask: its path under output and every score of skinlight.metrics.segmentation.MaskScores, the boundary distances
hd95 and asd in pixels included) and metrics.json (test/<score>: the means over the masks, the leaderboard's
numbers, and test/empty_truths, test/empty_predictions: how many masks are empty).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from skinlight.data.layouts.files import MASK_SUFFIX, show
from skinlight.data.layouts.images import check_images
from skinlight.errors import DataError
from skinlight.metrics.segmentation import MaskScores
from skinlight.rundir import RunDir

log = logging.getLogger(__name__)
SCORES_CSV = "scores.csv"


def read_binary(path: Path) -> np.ndarray:
    """The mask file as a boolean (H, W): grey (or 1-bit) values above 128, the official scorer's rule."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L")) > 128


def check_truth_folder(truth: str | Path) -> Path:
    """`truth` as a Path; a DataError unless it is a folder."""
    if not Path(truth).is_dir():
        raise DataError(f"truth={truth} is not a folder of ground-truth masks (<image stem>{MASK_SUFFIX})")
    return Path(truth)


def truth_files(written: list[Path], output: Path, truth: Path) -> list[Path]:
    """The ground-truth file of each written mask; one DataError for a missing truth folder or file, or a
    truth mask no prediction matches."""
    wanted = [p.relative_to(output) for p in written]
    missing = [str(truth / p) for p in wanted if not (truth / p).is_file()]
    if missing:
        raise DataError(f"truth={truth}: {len(missing)} ground-truth mask(s) not found: {show(missing)}")
    extra = sorted(set(truth.rglob(f"*{MASK_SUFFIX}")) - {truth / p for p in wanted})
    if extra:
        raise DataError(f"truth={truth}: {len(extra)} ground-truth mask(s) without an input image: {show(extra)}")
    paths = [truth / p for p in wanted]
    check_images(paths, "ground-truth mask")
    return paths


def score_masks(written: list[Path], output: str | Path, truth: str | Path) -> dict[str, float]:
    """Score the `written` masks (below `output`) against `truth`; write scores.csv and metrics.json beside
    `output`; return the metrics."""
    output, truth = Path(output), check_truth_folder(truth)
    metric = MaskScores()
    for predicted, expected in zip(written, truth_files(written, output, truth)):
        pred, true = read_binary(predicted), read_binary(expected)
        if pred.shape != true.shape:
            raise DataError(
                f"ground-truth mask {expected} is {true.shape[1]}x{true.shape[0]} but its image is "
                f"{pred.shape[1]}x{pred.shape[0]}; a mask has its image's size"
            )
        metric.update(torch.from_numpy(pred), torch.from_numpy(true))
    per_image = {k: v.numpy() for k, v in metric.per_image().items()}
    scores = pd.DataFrame({"mask": [p.relative_to(output).as_posix() for p in written], **per_image})
    scores.to_csv(output.parent / SCORES_CSV, index=False)
    metrics = {f"test/{k}": float(v) for k, v in metric.compute().items()}
    RunDir(output.parent).write_metrics(metrics)
    log.info(
        "%d mask(s) scored against %s: thresholded Jaccard %.4f, Dice %.4f -> %s",
        len(written),
        truth,
        metrics["test/thresholded_jaccard"],
        metrics["test/dice"],
        output.parent / SCORES_CSV,
    )
    return metrics
