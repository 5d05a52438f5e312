"""Shades-of-Gray colour constancy (Finlayson & Trezzi 2004) as an albumentations step: preprocessing, on every split.

The illuminant is estimated per channel as the Minkowski p-norm mean of the image, e_c = mean(I_c^p)^(1/p)
(p=1: grey world; p -> inf: max-RGB). Each channel is then scaled by ||e|| / (sqrt(3) e_c), which maps the
illuminant estimate e onto the grey (1, 1, 1) * ||e|| / sqrt(3) of the same Euclidean norm: a colour
cast is removed and the overall brightness kept. Output rounded, clipped to [0, 255], uint8. The mask
of a segmentation sample is not touched (ImageOnlyTransform).
"""

from __future__ import annotations

import math

import albumentations as A
import numpy as np

from skinlight.errors import ConfigError


def illuminant(img: np.ndarray, power: float) -> np.ndarray:
    """The per-channel Minkowski p-norm mean (e_R, e_G, e_B) of an RGB image."""
    return np.power(np.mean(np.power(img.astype(np.float64), power), axis=(0, 1)), 1 / power)


class ShadesOfGray(A.ImageOnlyTransform):
    """Shades-of-Gray white balance of a uint8 RGB image with Minkowski norm `power` (6: Gessert et al.)."""

    def __init__(self, power: float = 6, p: float = 1.0):
        super().__init__(p=p)
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 < power < math.inf:
            raise ConfigError(f"ShadesOfGray power={power!r}: use a positive finite number (6: Gessert et al.)")
        self.power = power

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"ShadesOfGray needs a uint8 RGB image, got {img.dtype} {img.shape}")
        e = illuminant(img, self.power)
        if not e.all():  # a channel that is black everywhere has no illuminant to correct
            return img
        gains = np.linalg.norm(e) / (math.sqrt(3) * e)
        return np.clip(np.rint(img * gains), 0, 255).astype(np.uint8)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("power",)
