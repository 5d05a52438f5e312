"""Hair removal ("DullRazor", Lee et al. 1997) as an albumentations step: preprocessing, on every split.

Dark hairs are thin dark structures: the black-hat transform (grayscale closing minus the image)
is high on them and near zero on skin and on lesions wider than the structuring element. Pixels
whose black-hat exceeds `threshold` form the hair mask, which is dilated by `dilate` px (the hairs'
soft edges) and inpainted from its surroundings with OpenCV (Telea). The mask of a segmentation
sample is not touched (ImageOnlyTransform); every pixel outside the hair mask keeps its value.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np

from skinlight.errors import ConfigError

KERNELS = ("cross", "lines")


def _line_kernels(size: int) -> list[np.ndarray]:
    """Horizontal, vertical and both diagonal lines of `size` px: Lee et al.'s structuring elements."""
    horizontal = np.zeros((size, size), np.uint8)
    horizontal[size // 2] = 1
    diagonal = np.eye(size, dtype=np.uint8)
    return [horizontal, horizontal.T.copy(), diagonal, np.fliplr(diagonal).copy()]


class DullRazor(A.ImageOnlyTransform):
    """Remove dark hairs from a uint8 RGB image: black-hat > `threshold` -> mask -> cv2.inpaint.

    `kernel_size` (px, at the size the step sees, i.e. after the resize to data.image_size) should
    exceed the hairs' width; `kernel`: "cross" (one cross-shaped element, the usual OpenCV recipe)
    or "lines" (the largest black-hat of four line elements, as the original DullRazor).
    """

    def __init__(
        self,
        kernel_size: int = 9,
        threshold: int = 10,
        kernel: str = "cross",
        dilate: int = 1,
        inpaint_radius: int = 3,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if kernel not in KERNELS:
            raise ConfigError(f"DullRazor kernel={kernel!r}: choose one of {list(KERNELS)}")
        if kernel_size < 3:
            raise ConfigError(f"DullRazor kernel_size={kernel_size}: use 3 px or more (wider than a hair)")
        self.kernel_size, self.threshold, self.kernel = kernel_size, threshold, kernel
        self.dilate, self.inpaint_radius = dilate, inpaint_radius
        if kernel == "cross":
            self._elements = [cv2.getStructuringElement(cv2.MORPH_CROSS, (kernel_size, kernel_size))]
        else:
            self._elements = _line_kernels(kernel_size)

    def hair_mask(self, img: np.ndarray) -> np.ndarray:
        """uint8 mask (255 = hair) of an RGB uint8 image."""
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        blackhat = np.max([cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, k) for k in self._elements], axis=0)
        mask = np.where(blackhat > self.threshold, 255, 0).astype(np.uint8)
        if self.dilate:
            mask = cv2.dilate(mask, np.ones((2 * self.dilate + 1,) * 2, np.uint8))
        return mask

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"DullRazor needs a uint8 RGB image, got {img.dtype} {img.shape}")
        mask = self.hair_mask(img)
        if not mask.any():
            return img
        return cv2.inpaint(img, mask, self.inpaint_radius, cv2.INPAINT_TELEA)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("kernel_size", "threshold", "kernel", "dilate", "inpaint_radius")
