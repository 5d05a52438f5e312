"""ISIC 2018 Task 3 submission files, which `isic-challenge-scoring classification TRUTH SUBMISSION` scores.

isic2018_task3_submission.csv   image,MEL,NV,BCC,AKIEC,BKL,DF,VASC: one row per image, the model's
                                probabilities at full precision (each float32 written as the float64 it
                                is exactly), so the scorer's AUCs and thresholds see skinlight's numbers
isic2018_task3_groundtruth.csv  the same layout, one-hot (1.0/0.0) from the labels: the scorer's TRUTH

Only a model of HAM10000's seven classes (any order; akiec -> AKIEC, ...) gets them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.data.layouts.isic2018_task3 import ONE_HOT

log = logging.getLogger(__name__)
SUBMISSION = "isic2018_task3_submission.csv"
GROUND_TRUTH = "isic2018_task3_groundtruth.csv"


def _table(image_ids: Sequence[str], values: np.ndarray, order: list[int]) -> pd.DataFrame:
    table = pd.DataFrame(values[:, order].astype(np.float64), columns=list(ONE_HOT))
    table.insert(0, "image", list(image_ids))
    return table


def write_submission(
    out_dir: str | Path,
    image_ids: Sequence[str],
    probs: np.ndarray,
    class_names: Sequence[str],
    labels: np.ndarray | None = None,
) -> Path | None:
    """Write SUBMISSION (and, given class indices `labels`, GROUND_TRUTH) of (N, C) `probs` into `out_dir`;
    return the submission's path, or None (one INFO line why) when there is no submission to write."""
    names = list(class_names)
    if sorted(names) != sorted(CLASSES):
        log.info("no ISIC 2018 Task 3 submission: the model's classes %s are not HAM10000's %s", names, list(CLASSES))
        return None
    if len(set(image_ids)) < len(image_ids):
        log.info("no ISIC 2018 Task 3 submission: two images share a file name (the submission's image id)")
        return None
    order = [names.index(c.lower()) for c in ONE_HOT]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _table(image_ids, np.asarray(probs), order).to_csv(out_dir / SUBMISSION, index=False)
    if labels is not None:
        one_hot = np.eye(len(names))[np.asarray(labels)]
        _table(image_ids, one_hot, order).to_csv(out_dir / GROUND_TRUTH, index=False)
    log.info("ISIC 2018 Task 3 submission written to %s", out_dir / SUBMISSION)
    return out_dir / SUBMISSION
