"""The albumentations pipeline of every dataset: resize, preprocessing (every split), augmentations (train
only), to a float tensor.

Preprocessing (`preprocess=` group, e.g. hair removal) runs on every split and at inference alike: a model
records its steps as plain configs (`preprocessing()` rebuilds them). Images leave the pipeline as float
tensors (3, S, S) in [0, 1]; normalisation belongs to the model, which knows the statistics its weights
expect (and records them in its checkpoint).
"""

from __future__ import annotations

import albumentations as A
from hydra.utils import instantiate
from torch.utils.data import get_worker_info

from skinlight.errors import ConfigError

# How an image reaches image_size x image_size. squash: resized to the square, aspect not kept.
RESIZE_POLICIES = ("squash",)


def resize_step(image_size: int, policy: str = "squash") -> A.BasicTransform:
    """The resize step of `policy` (see RESIZE_POLICIES)."""
    if policy not in RESIZE_POLICIES:
        raise ConfigError(f"data.resize={policy!r}: choose one of {list(RESIZE_POLICIES)}")
    return A.Resize(image_size, image_size)


def build_transform(
    image_size: int, augmentation=(), seed: int | None = None, policy: str = "squash", preprocess=()
) -> A.Compose:
    """Resize (`policy`), the preprocessing steps, the given augmentations (train only), scale to [0, 1], to tensor.

    albumentations 2.x draws from the Compose's own generator (`seed`), not from the global seeds.
    """
    steps = [resize_step(image_size, policy), *preprocess, *augmentation, A.ToFloat(max_value=255), A.ToTensorV2()]
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
