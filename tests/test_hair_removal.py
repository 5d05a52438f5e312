"""DullRazor hair removal: drawn dark hairs are inpainted, skin, lesion and the mask keep their values."""

import albumentations as A
import cv2
import numpy as np
import pytest

from skinlight.data.hair_removal import DullRazor
from skinlight.errors import ConfigError

SIZE = 128


def _skin_with_lesion(seed: int = 0) -> np.ndarray:
    """A skin-coloured gradient with mild noise and a soft brown lesion of radius 35 px (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    skin = np.stack([200 + 20 * x / SIZE, 160 + 15 * y / SIZE, 140 + 0 * x], axis=-1)
    lesion = np.clip((35 - np.hypot(x - 64, y - 60)) / 6, 0, 1)[..., None]  # soft edge
    image = skin * (1 - lesion) + np.array([120, 80, 60]) * lesion + rng.normal(0, 1.5, skin.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_hairs(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dark 2-px lines across skin and lesion; returns (hairy image, boolean hair mask)."""
    hairy, drawn = image.copy(), np.zeros(image.shape[:2], np.uint8)
    for (x0, y0), (x1, y1) in [((5, 10), (120, 100)), ((10, 120), (110, 5)), ((64, 0), (70, 127))]:
        cv2.line(hairy, (x0, y0), (x1, y1), (35, 25, 20), 2)
        cv2.line(drawn, (x0, y0), (x1, y1), 255, 2)
    return hairy, drawn > 0


@pytest.mark.parametrize("kernel", ["cross", "lines"])
def test_hair_pixels_are_replaced_and_the_rest_is_unchanged(kernel):
    clean = _skin_with_lesion()
    hairy, hair = _draw_hairs(clean)
    out = DullRazor(kernel_size=9, kernel=kernel)(image=hairy)["image"]

    error = np.abs(out.astype(int) - clean.astype(int)).max(axis=-1)
    before = np.abs(hairy.astype(int) - clean.astype(int)).max(axis=-1)
    assert before[hair].mean() > 100  # the hairs really are dark
    assert error[hair].mean() < 10 and np.percentile(error[hair], 90) < 20
    far = cv2.dilate(hair.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0  # > 4 px from any hair
    changed = np.abs(out.astype(int) - hairy.astype(int)).max(axis=-1) > 2
    assert changed[far].mean() < 0.01


def test_image_without_hair_and_the_segmentation_mask_are_kept():
    clean = _skin_with_lesion(seed=1)
    mask = (np.hypot(*np.mgrid[-64:64, -60:68]) < 35).astype(np.uint8)
    out = A.Compose([DullRazor()])(image=clean, mask=mask)
    assert np.array_equal(out["mask"], mask)
    assert (np.abs(out["image"].astype(int) - clean.astype(int)).max(axis=-1) > 2).mean() < 0.01


def test_bad_settings_say_what_to_change():
    with pytest.raises(ConfigError, match="kernel='disk'"):
        DullRazor(kernel="disk")
    with pytest.raises(ConfigError, match="kernel_size=1"):
        DullRazor(kernel_size=1)
    with pytest.raises(ValueError, match="uint8 RGB"):
        DullRazor()(image=np.zeros((8, 8, 3), np.float32))
