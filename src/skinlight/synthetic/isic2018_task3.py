"""A synthetic copy of the official ISIC 2018 Task 3 validation and test layout (data=isic2018_task3).

Lesions drawn by skinlight.synthetic.draw; the validation set in the challenge's one-hot form, the
test set one-hot plus a metadata CSV in the HAM10000 form with some images left out.

CLI: ``skinlight-synthetic --layout isic2018_task3 --out DIR [--num-lesions VALIDATION TEST] [...]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skinlight.data.layouts.isic2018_task3 import FIRST_IDS, ONE_HOT, SETS, find_ground_truth, ground_truth_name
from skinlight.errors import DataError
from skinlight.synthetic.draw import (
    FIRST_IMAGE_NUMBER,
    JPEG_QUALITY,
    draw_lesion_image,
    plan_dataset,
    sample_lesion,
    sample_view,
)
from skinlight.synthetic.ham10000 import COLUMNS


def generate_isic2018_task3(
    root: str | os.PathLike,
    num_lesions: tuple[int, int] = (40, 160),
    seed: int = 0,
    image_size: tuple[int, int] = (600, 450),
    metadata_share: float = 0.9,
) -> dict:
    """Write a synthetic ISIC 2018 Task 3 validation and test set into `root`; return images per set.

    Each set draws `num_lesions` lesions (validation, test) as skinlight.synthetic.draw does.
    Validation: the challenge's one-hot CSV only. Test: the one-hot CSV and
    ISIC2018_Task3_Test_Metadata.csv (HAM10000 columns) for `metadata_share` of its images.
    """
    root = Path(root)
    if any(find_ground_truth(root, which) for which in SETS):
        raise DataError(f"{root} already holds an ISIC 2018 Task 3 ground truth; choose an empty directory")
    # planned before anything is written (plan_dataset refuses too few lesions); other lesions than data=synthetic's
    plans = [plan_dataset(n, seed + 1000 * (s + 1)) for s, n in enumerate(num_lesions)]
    counts = {}
    for s, (which, plan) in enumerate(zip(SETS, plans, strict=True)):
        plan["image_id"] = [f"ISIC_{int(i[5:]) - FIRST_IMAGE_NUMBER + FIRST_IDS[which]:07d}" for i in plan.image_id]
        images, truth = root / f"ISIC2018_Task3_{which}_Input", root / f"ISIC2018_Task3_{which}_GroundTruth"
        images.mkdir(parents=True)
        truth.mkdir()
        for name in ("ATTRIBUTION.txt", "LICENSE.txt"):  # as in the real download
            (images / name).write_text(f"synthetic ISIC 2018 Task 3 {which} set (skinlight)\n")
        for i, r in enumerate(plan.itertuples()):
            lesion = sample_lesion(r.dx, np.random.default_rng([seed, s, 0, r.lesion_index]), r.style)
            rng = np.random.default_rng([seed, s, 1, i])
            rgb, _ = draw_lesion_image(lesion, sample_view(rng), image_size, rng)
            Image.fromarray(rgb).save(images / f"{r.image_id}.jpg", quality=JPEG_QUALITY)
        one_hot = pd.DataFrame({"image": plan.image_id, **{c: (plan.dx == c.lower()).astype(float) for c in ONE_HOT}})
        one_hot.sort_values("image").to_csv(truth / ground_truth_name(which), index=False)
        if which == "Test":
            keep = np.random.default_rng([seed, s, 2]).random(len(plan)) < metadata_share
            plan[keep][list(COLUMNS)].to_csv(root / "ISIC2018_Task3_Test_Metadata.csv", index=False)
        counts[which] = len(plan)
    return counts
