"""Mixup / CutMix of a training batch (timm.data.Mixup, per batch), with soft targets and metadata.

Each image is mixed with the batch in reverse order (image i with image B-1-i; an odd batch's middle
image with itself) by one lambda per batch: mixup blends whole images, cutmix pastes a box whose area
fraction is 1 - lambda. The targets become lambda y_i + (1 - lambda) y_(B-1-i), one-hot vectors smoothed by
the loss's label_smoothing (the loss does not smooth soft targets again). Metadata vectors (meta=...) are
blended with the same pairs and lambda, for cutmix too (lambda is then the share of the image kept).
timm draws lambda from NumPy's global generator, which the checkpoints save (RandomStateCheckpoint).
"""

from __future__ import annotations

from timm.data.mixup import Mixup, mixup_target
from torch import Tensor

from skinlight.errors import ConfigError


class Mixing:
    """Mixup (mixup_alpha > 0), CutMix (cutmix_alpha > 0) or, with both, one of them per batch (CutMix
    with probability switch_prob); a batch is mixed with probability `prob`. The alphas are those of the
    Beta(alpha, alpha) distribution lambda is drawn from."""

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
    ):
        for key, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"mixup.{key}={value!r} must be a number >= 0")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ConfigError("mixup.mixup_alpha and mixup.cutmix_alpha are both 0: set one > 0, or use mixup=none")
        for key, value in (("prob", prob), ("switch_prob", switch_prob)):
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"mixup.{key}={value!r} must be a probability in [0, 1]")
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.mixup = Mixup(
            mixup_alpha=mixup_alpha,
            cutmix_alpha=cutmix_alpha,
            prob=prob,
            switch_prob=switch_prob,
            mode="batch",
            correct_lam=True,
            label_smoothing=label_smoothing,
            num_classes=num_classes,
        )

    def __call__(self, image: Tensor, meta: Tensor | None, label: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """(mixed images (in place), mixed metadata or None, soft targets (B, C)) of a batch."""
        lam = self.mixup._mix_batch(image)  # timm's per-batch step (Mixup.__call__ also wants an even batch)
        if meta is not None and lam != 1.0:
            meta = meta * lam + meta.flip(0) * (1.0 - lam)
        return image, meta, mixup_target(label, self.num_classes, lam, self.label_smoothing)
