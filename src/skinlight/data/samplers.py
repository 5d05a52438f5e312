"""Class-rebalancing samplers for the train split (`sampler=` config group).

Each option is a factory `f(labels, class_names) -> torch Sampler` over the indices of the train
dataset, built by the datamodule after the split: val and test are never resampled, and since a
sampler only repeats or drops train images, no val/test lesion can reach training.

    weighted     torch WeightedRandomSampler, weight 1 / N_c per image, N draws with replacement
    oversample   every class drawn up to the majority count (whole copies + a random remainder)
    undersample  every class drawn down to the minority count (a new random subset each epoch)
    duplicate    every image of class c repeated factors[c] times (Elgohary et al. 2024: their Table 4
                 factor + 2, conf/sampler/duplicate.yaml)

Every epoch is drawn from a generator seeded with (seed, epoch), so all DDP ranks draw the same
epoch; Lightning (use_distributed_sampler=True, the default) wraps the sampler in a
DistributedSamplerWrapper that gives each rank its share and forwards set_epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler, WeightedRandomSampler

from skinlight.errors import ConfigError


class ClassResampler(Sampler[int]):
    """Each epoch, `draws[c]` indices of class c, shuffled.

    A class with n images and k draws contributes every image k // n times plus k % n images
    picked at random without replacement (so k = n * f repeats each image exactly f times).
    A class without images must get 0 draws.
    """

    def __init__(self, labels: Sequence[int], draws: Sequence[int], seed: int = 0):
        labels = np.asarray(labels)
        self.members = [np.flatnonzero(labels == c) for c in range(len(draws))]
        self.draws, self.seed, self.epoch = [int(k) for k in draws], seed, 0

    def __len__(self) -> int:
        return sum(self.draws)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning (directly, or through DistributedSamplerWrapper) before each epoch."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        chosen = [
            np.concatenate([np.tile(members, k // len(members)), rng.choice(members, k % len(members), replace=False)])
            for members, k in zip(self.members, self.draws)
            if k
        ]
        epoch = rng.permutation(np.concatenate(chosen))
        self.epoch += 1  # a sampler whose set_epoch is never called still varies between epochs
        return iter(epoch.tolist())


def _counts(labels, num_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(labels), minlength=num_classes)


def weighted(labels: Sequence[int], class_names: Sequence[str], seed: int = 0) -> WeightedRandomSampler:
    """Inverse class frequency: every class equally likely per draw; epoch length = train size."""
    counts = _counts(labels, len(class_names))
    weights = 1.0 / counts[np.asarray(labels)]
    return WeightedRandomSampler(
        torch.as_tensor(weights, dtype=torch.double),
        num_samples=len(weights),
        replacement=True,
        generator=torch.Generator().manual_seed(seed),
    )


def oversample(labels: Sequence[int], class_names: Sequence[str], seed: int = 0) -> ClassResampler:
    """Every class present drawn as often as the majority class has images."""
    counts = _counts(labels, len(class_names))
    return ClassResampler(labels, np.where(counts > 0, counts.max(), 0), seed)


def undersample(labels: Sequence[int], class_names: Sequence[str], seed: int = 0) -> ClassResampler:
    """Every class present drawn as often as the smallest class present has images."""
    counts = _counts(labels, len(class_names))
    return ClassResampler(labels, np.where(counts > 0, counts[counts > 0].min(), 0), seed)


def duplicate(
    labels: Sequence[int], class_names: Sequence[str], factors: Mapping[str, int], seed: int = 0
) -> ClassResampler:
    """Every image of class c repeated `factors[c]` times per epoch (a whole number >= 1)."""
    missing = [c for c in class_names if c not in factors]
    if missing:
        raise ConfigError(
            f"sampler.factors has no entry for class(es) {missing}; the classes are "
            f"{list(class_names)} (e.g. sampler.factors={{{class_names[0]}:1,...}})"
        )
    bad = {c: factors[c] for c in class_names if not (isinstance(factors[c], int) and factors[c] >= 1)}
    if bad:
        raise ConfigError(f"sampler.factors must be whole numbers >= 1, got {bad}")
    counts = _counts(labels, len(class_names))
    return ClassResampler(labels, [n * factors[c] for n, c in zip(counts, class_names)], seed)
