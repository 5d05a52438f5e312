"""Boundary distances (skinlight.metrics.surface, MONAI's) against a brute-force computation, and MaskScores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from skinlight.metrics.segmentation import MaskScores
from skinlight.metrics.surface import surface_distances


def edge_pixels(mask: np.ndarray) -> np.ndarray:
    """(row, col) of every mask pixel with a 4-neighbour outside the mask or the image."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.argwhere(mask & ~inner)


def brute_force(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """hd95 and asd from every pair of edge pixels: nearest distances both ways, their 95th percentiles, their mean."""
    a, b = edge_pixels(pred), edge_pixels(true)
    pairwise = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    a_to_b, b_to_a = pairwise.min(1), pairwise.min(0)
    hd95 = max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95))
    return float(hd95), float(np.concatenate([a_to_b, b_to_a]).mean())


def hand_made() -> tuple[np.ndarray, np.ndarray]:
    """A disc and a shifted, notched rectangle on a 24 x 30 image."""
    rows, cols = np.mgrid[:24, :30]
    disc = (rows - 11) ** 2 + (cols - 12) ** 2 <= 36
    rect = np.zeros((24, 30), dtype=bool)
    rect[8:20, 10:27] = True
    rect[8:12, 18:22] = False  # a notch
    return disc, rect


def test_hd95_and_asd_equal_the_brute_force_values():
    pred, true = hand_made()
    hd95, asd = surface_distances(torch.from_numpy(pred), torch.from_numpy(true))
    expected_hd95, expected_asd = brute_force(pred, true)
    assert hd95 == pytest.approx(expected_hd95, abs=1e-5)
    assert asd == pytest.approx(expected_asd, abs=1e-5)
    assert hd95 > 3  # the masks differ by several pixels: not a trivial agreement at 0
    assert surface_distances(torch.from_numpy(true), torch.from_numpy(true)) == (0.0, 0.0)


def test_empty_masks_score_a_number_not_nan():
    pred, _ = hand_made()
    empty = torch.zeros(24, 30, dtype=torch.bool)
    assert surface_distances(empty, empty) == (0.0, 0.0)
    diagonal = math.hypot(24, 30)
    assert surface_distances(torch.from_numpy(pred), empty) == (diagonal, diagonal)
    assert surface_distances(empty, torch.from_numpy(pred)) == (diagonal, diagonal)


def test_mask_scores_keep_each_image_at_its_own_size_and_count_the_empty_ones():
    pred, true = hand_made()
    scores = MaskScores()
    scores.update(torch.from_numpy(pred), torch.from_numpy(true))
    scores.update(torch.ones(5, 7, dtype=torch.bool), torch.ones(5, 7, dtype=torch.bool))  # another size, perfect
    scores.update(torch.zeros(6, 8, dtype=torch.bool), torch.zeros(6, 8, dtype=torch.bool))  # nothing, found
    scores.update(torch.zeros(6, 8, dtype=torch.bool), torch.ones(6, 8, dtype=torch.bool))  # a lesion missed
    per_image = scores.per_image()
    assert per_image["hd95"][0].item() == pytest.approx(brute_force(pred, true)[0], abs=1e-5)
    assert per_image["dice"].tolist()[1:] == [1.0, 1.0, 0.0]
    assert per_image["hd95"].tolist()[1:] == [0.0, 0.0, 10.0]
    overall = scores.compute()
    assert overall["empty_truths"].item() == 1 and overall["empty_predictions"].item() == 2
    assert overall["hd95"].item() == pytest.approx(per_image["hd95"].mean().item())
    assert not any(torch.isnan(v).any() for v in overall.values())
