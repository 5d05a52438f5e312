"""Optimiser parameter groups (backbone vs head learning rate, layer-wise decay) and the schedulers'
Lightning wiring, with the per-step warmup-cosine schedule (scheduler=warmup_cosine)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from hydra.utils import get_class, instantiate
from timm.models import group_parameters
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from skinlight.errors import ConfigError

log = logging.getLogger(__name__)

LR_GROUP_KEYS = ("backbone_scale", "layer_decay")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_lr_groups(spec: dict | None) -> None:
    """model.lr_groups: backbone_scale > 0, layer_decay null or in (0, 1]."""
    spec = spec or {}
    unknown = sorted(set(spec) - set(LR_GROUP_KEYS))
    if unknown:
        raise ConfigError(f"model.lr_groups.{unknown[0]} is not an option; the keys are {', '.join(LR_GROUP_KEYS)}")
    scale = spec.get("backbone_scale", 1.0)
    if not _number(scale) or scale <= 0:
        raise ConfigError(
            f"model.lr_groups.backbone_scale={scale!r} must be a number > 0 "
            "(to freeze the backbone: model.freeze_backbone_epochs)"
        )
    decay = spec.get("layer_decay")
    if decay is not None and (not _number(decay) or not 0 < decay <= 1):
        raise ConfigError(f"model.lr_groups.layer_decay={decay!r} must be null or a number in (0, 1]")


def param_groups(
    backbone: nn.Module,
    others: Iterable[nn.Module],
    lr: float | None,
    backbone_scale: float = 1.0,
    layer_decay: float | None = None,
) -> list[dict]:
    """Optimiser groups: the modules `others` (head, fusion, classifier) at `lr`, the backbone at
    lr x backbone_scale; with layer_decay, timm's layer groups of the backbone (group_matcher), the
    deepest at lr x backbone_scale and each earlier one a factor layer_decay lower. Weight decay is the
    optimizer's for every group."""
    if lr is None:
        raise ConfigError("model.lr_groups needs optimizer.lr (the learning rate the groups scale)")
    head = {"name": "head", "params": [p for m in others for p in m.parameters()], "lr": lr}
    if layer_decay is None:
        return [{"name": "backbone", "params": list(backbone.parameters()), "lr": lr * backbone_scale}, head]
    if not hasattr(backbone, "group_matcher"):
        raise ConfigError(
            f"model.lr_groups.layer_decay={layer_decay}: this backbone ({type(backbone).__name__}, "
            "model.features_at a module name?) has no timm layer groups (group_matcher); use layer_decay=null"
        )
    layer_of = group_parameters(backbone, backbone.group_matcher(coarse=False), reverse=True)
    deepest = max(layer_of.values())
    layers: dict[int, list] = {}
    for name, param in backbone.named_parameters():
        layers.setdefault(layer_of[name], []).append(param)
    groups = [
        {"name": f"backbone.{i}", "params": params, "lr": lr * backbone_scale * layer_decay ** (deepest - i)}
        for i, params in sorted(layers.items())
    ]
    return [*groups, head]


class WarmupCosine(LRScheduler):
    """Linear warmup then cosine decay, per optimizer step: step n (1-based) of `total_steps` trains at
    lr x n / W for n <= W = round(warmup_epochs x steps_per_epoch), then at
    min_lr + (lr - min_lr) (1 + cos(pi (n - W) / (total_steps - W))) / 2, reaching min_lr at the last step.
    `lr` is each group's initial learning rate; `min_lr` is absolute (as CosineAnnealingLR's eta_min)."""

    INTERVAL = "step"  # lr_scheduler_config steps it after every optimizer step

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        steps_per_epoch: int,
        warmup_epochs: float = 1.0,
        min_lr: float = 0.0,
    ):
        if not _number(warmup_epochs) or warmup_epochs < 0:
            raise ConfigError(f"scheduler.warmup_epochs={warmup_epochs!r} must be a number >= 0")
        lowest = min(g["lr"] for g in optimizer.param_groups)
        if not _number(min_lr) or not 0 <= min_lr <= lowest:
            raise ConfigError(
                f"scheduler.min_lr={min_lr!r} must be >= 0 and at most the lowest learning rate, {lowest:g} "
                "(optimizer.lr, scaled by model.lr_groups)"
            )
        self.total_steps = int(total_steps)
        self.warmup_steps = round(warmup_epochs * steps_per_epoch)
        if self.warmup_steps >= self.total_steps:
            raise ConfigError(
                f"scheduler.warmup_epochs={warmup_epochs} is {self.warmup_steps} optimizer steps, not fewer than "
                f"the run's {self.total_steps} (trainer.max_epochs x {steps_per_epoch} steps an epoch)"
            )
        self.min_lr = min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        step = min(self.last_epoch + 1, self.total_steps)  # the optimizer step these rates are for
        if step <= self.warmup_steps:
            return [lr * step / self.warmup_steps for lr in self.base_lrs]
        cosine = (1 + math.cos(math.pi * (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))) / 2
        return [self.min_lr + (lr - self.min_lr) * cosine for lr in self.base_lrs]


def lr_scheduler_config(spec: dict, optimizer: Optimizer, module) -> dict:
    """Lightning's lr_scheduler entry of `module`: a per-step scheduler (INTERVAL = "step", e.g.
    WarmupCosine) gets the run's optimizer steps (trainer.estimated_stepping_batches: max_epochs and
    accumulate_grad_batches counted) and is stepped every optimizer step; the others are stepped every
    epoch, ReduceLROnPlateau on the module's monitor."""
    scheduler_class = get_class(spec["_target_"])
    if getattr(scheduler_class, "INTERVAL", "epoch") != "step":
        return {"scheduler": instantiate(spec, optimizer=optimizer), "monitor": module.hparams.monitor}
    trainer = module.trainer
    total = trainer.estimated_stepping_batches  # sets the train loader up: num_training_batches is known after it
    per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
    arguments = {k: v for k, v in spec.items() if k != "_target_"}
    if trainer.fast_dev_run and "warmup_epochs" in arguments:  # a trial of a few steps: no room for a warmup
        log.info("trainer.fast_dev_run: scheduler.warmup_epochs=%s not applied", arguments["warmup_epochs"])
        arguments["warmup_epochs"] = 0.0
    scheduler = scheduler_class(optimizer, total_steps=total, steps_per_epoch=per_epoch, **arguments)
    return {"scheduler": scheduler, "interval": "step"}
