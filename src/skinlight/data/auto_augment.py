"""RandAugment (Cubuk et al. 2020) and TrivialAugment (Müller & Hutter 2021) as albumentations steps.

albumentations has neither; these wrap torchvision.transforms.v2's RandAugment and TrivialAugmentWide
on uint8 HWC arrays. torchvision draws from torch's global generator; the wrappers instead draw one
seed per call from the albumentations generator (the Compose's, seeded by the run and reseeded in every
loader worker; saved in checkpoints by callbacks.RandomStateCheckpoint) and run the policy under it with
the global torch state left as it was, so a seeded pipeline repeats itself and a resumed run continues
exactly. The mask of a segmentation sample is not touched (ImageOnlyTransform): these policies hold
geometric operations (rotate, shear, translate), so they are for classification.
"""

from __future__ import annotations

import albumentations as A
import numpy as np
import torch
from torchvision.transforms import v2

from skinlight.errors import ConfigError

MAGNITUDE_BINS = 31  # torchvision's num_magnitude_bins


class _TorchvisionPolicy(A.ImageOnlyTransform):
    """A torchvision v2 image policy (`self.policy`) on a uint8 RGB array, seeded from the albumentations generator."""

    policy: v2.Transform

    def get_params(self) -> dict:
        return {"seed": int(self.random_generator.integers(2**63))}

    def apply(self, img: np.ndarray, seed: int = 0, **params) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{type(self).__name__} needs a uint8 RGB image, got {img.dtype} {img.shape}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = self.policy(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
        return np.ascontiguousarray(out.permute(1, 2, 0).numpy())


class RandAugment(_TorchvisionPolicy):
    """`num_ops` operations drawn uniformly per image, each at `magnitude` (0-30; torchvision's defaults 2, 9)."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, p: float = 1.0):
        super().__init__(p=p)
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 1:
            raise ConfigError(f"RandAugment num_ops={num_ops!r}: use a whole number >= 1 (torchvision's default: 2)")
        if isinstance(magnitude, bool) or not isinstance(magnitude, int) or not 0 <= magnitude < MAGNITUDE_BINS:
            raise ConfigError(
                f"RandAugment magnitude={magnitude!r}: use a whole number from 0 to {MAGNITUDE_BINS - 1} "
                "(torchvision's default: 9)"
            )
        self.num_ops, self.magnitude = num_ops, magnitude
        self.policy = v2.RandAugment(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=MAGNITUDE_BINS)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("num_ops", "magnitude")


class TrivialAugment(_TorchvisionPolicy):
    """One operation per image at a magnitude drawn uniformly (TrivialAugmentWide: the wide ranges)."""

    def __init__(self, p: float = 1.0):
        super().__init__(p=p)
        self.policy = v2.TrivialAugmentWide(num_magnitude_bins=MAGNITUDE_BINS)
