"""The albumentations pipeline of every dataset: resize, preprocessing (every split), augmentations (train
only), to a float tensor.

Preprocessing (`preprocess=` group, e.g. hair removal) runs on every split and at inference alike: a model
records its steps as plain configs (`preprocessing()` rebuilds them). Images leave the pipeline as float
tensors (3, S, S) in [0, 1]; normalisation belongs to the model, which knows the statistics its weights
expect (and records them in its checkpoint).
"""

from __future__ import annotations

import albumentations as A
import cv2
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import Tensor
from torch.utils.data import get_worker_info

from skinlight.errors import ConfigError

# How an image reaches image_size x image_size. squash: resized to the square, aspect not kept; pad: the
# longest side resized to image_size, then centred on a black (0) square (masks: background); crop: the
# shortest side resized to image_size, then the centre square cut out (the edges of the longer side lost).
RESIZE_POLICIES = ("squash", "pad", "crop")


def _unknown(policy: str) -> ConfigError:
    return ConfigError(f"data.resize={policy!r}: choose one of {list(RESIZE_POLICIES)}")


def resize_steps(image_size: int, policy: str = "squash") -> list[A.BasicTransform]:
    """The resize steps of `policy` (see RESIZE_POLICIES); a mask passed along follows the same geometry."""
    if policy == "squash":
        return [A.Resize(image_size, image_size)]
    if policy == "pad":
        return [
            A.LongestMaxSize(max_size=image_size),
            A.PadIfNeeded(image_size, image_size, position="center", border_mode=cv2.BORDER_CONSTANT, fill=0),
        ]
    if policy == "crop":
        return [A.SmallestMaxSize(max_size=image_size), A.CenterCrop(image_size, image_size)]
    raise _unknown(policy)


def content_box(height: int, width: int, image_size: int, policy: str) -> tuple[int, int, int, int]:
    """(top, left, h, w): where a height x width image lies in its image_size square after `policy`'s resize.

    Maps a prediction at image_size back onto the image. squash fills the square; pad leaves the
    border it added (sides rounded as albumentations' LongestMaxSize rounds them); crop has no inverse
    (the cut-off edges were never seen), so it is refused.
    """
    if policy == "squash":
        return 0, 0, image_size, image_size
    if policy == "pad":
        scale = image_size / max(height, width)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        return (image_size - h) // 2, (image_size - w) // 2, h, w
    if policy == "crop":
        raise ConfigError(
            "data.resize=crop cuts off the image's edges, so masks cannot be mapped back onto the whole image: "
            "use data.resize=squash or pad for segmentation"
        )
    raise _unknown(policy)


def restore_size(prob: Tensor, source: tuple[int, int], size: tuple[int, int], image_size: int, policy: str) -> Tensor:
    """A (C, image_size, image_size) prediction of a `source` (h, w) image mapped back onto it at `size` (h, w):
    its content_box resized (bilinear)."""
    top, left, h, w = content_box(*source, image_size, policy)
    box = prob[None, :, top : top + h, left : left + w]
    return F.interpolate(box, size=tuple(size), mode="bilinear", align_corners=False)[0]


def build_transform(
    image_size: int, augmentation=(), seed: int | None = None, policy: str = "squash", preprocess=()
) -> A.Compose:
    """Resize (`policy`), the preprocessing steps, the given augmentations (train only), scale to [0, 1], to tensor.

    albumentations 2.x draws from the Compose's own generator (`seed`), not from the global seeds.
    """
    steps = [*resize_steps(image_size, policy), *preprocess, *augmentation, A.ToFloat(max_value=255), A.ToTensorV2()]
    return A.Compose(steps, seed=seed)


def preprocessing(configs) -> list[A.BasicTransform]:
    """The preprocessing steps a model recorded (plain `_target_` configs; None: none)."""
    return [instantiate(config) for config in configs or ()]


def seed_worker_transform(worker_id: int) -> None:
    """DataLoader worker_init_fn: reseed the worker's copy of the transform with torch's worker seed.

    Without it every worker starts from the same Compose generator state and repeats the other
    workers' augmentations; torch's worker seed differs per worker and follows the run seed.
    """
    info = get_worker_info()
    info.dataset.transform.set_random_seed(info.seed)
