"""Post-processing of predicted lesion masks (conf/postprocess/): remove specks below an area, keep the
largest connected component, fill holes.

A dermoscopy image shows one lesion, so an ISIC Task 1 entry keeps one region and closes its holes. The
steps run in that order on a boolean (H, W) mask at the image's own resolution: components smaller than
`min_area` (a fraction of the image's pixels) go, then all but the largest component go, then holes (background
regions that do not touch the border) are filled. Components are 8-connected (scipy.ndimage). An empty mask
stays empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from skinlight.errors import ConfigError

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class PostProcess:
    """The post-processing of one conf/postprocess config; calling it maps a boolean mask to another."""

    name: str = "none"
    largest_component: bool = False
    fill_holes: bool = False
    min_area: float = 0.0

    def __post_init__(self) -> None:
        for key in ("largest_component", "fill_holes"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"postprocess.{key}={getattr(self, key)!r}: give true or false")
        if isinstance(self.min_area, bool) or not isinstance(self.min_area, int | float) or not 0 <= self.min_area < 1:
            raise ConfigError(f"postprocess.min_area={self.min_area!r}: give an image fraction in [0, 1)")

    @classmethod
    def from_config(cls, config: Mapping | None) -> PostProcess:
        """The PostProcess of a postprocess config (None: none); an unknown key stops here."""
        config = dict(config or {})
        unknown = sorted(set(config) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"postprocess has unknown key(s) {unknown}; known: {[f.name for f in fields(cls)]}")
        return cls(**config)

    @property
    def active(self) -> bool:
        return self.largest_component or self.fill_holes or self.min_area > 0

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if not self.active or not mask.any():
            return mask
        labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0  # the background
        keep = sizes >= self.min_area * mask.size if self.min_area > 0 else sizes > 0
        if self.largest_component and keep.any():
            keep = np.arange(count + 1) == np.argmax(np.where(keep, sizes, 0))
        mask = keep[labels]
        return ndimage.binary_fill_holes(mask) if self.fill_holes else mask
