"""Lightning callbacks: exact resumes, stopping on a diverged loss, channels-last memory format, an
exponential moving average of the weights."""

from __future__ import annotations

import logging
import math
import random

import lightning.pytorch as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

from skinlight.errors import SkinlightError

KEY = "skinlight_random_state"
log = logging.getLogger(__name__)


class NonFiniteLossError(SkinlightError):
    """The training loss became NaN or infinite."""


def _augmentations(trainer: L.Trainer) -> list:
    """The train dataset's albumentations transforms, each with its own generators (Compose first, then nested)."""
    datasets = getattr(trainer.datamodule, "datasets", None) or {}
    pending, found = [getattr(datasets.get("train"), "transform", None)], []
    while pending:
        transform = pending.pop(0)
        if hasattr(transform, "random_generator"):
            found.append(transform)
            pending.extend(getattr(transform, "transforms", []))
    return found


class RandomStateCheckpoint(L.Callback):
    """Saves every random generator of the run in each checkpoint and restores them on resume.

    Lightning restores weights, optimizer, schedulers and loop counters but not the generators
    that shuffle the data, draw dropout masks and augmentations; with them, a run resumed from
    last.ckpt continues exactly as the uninterrupted run would have (deterministic settings, data
    loaded in the main process). The states are plain tensors, lists and ints: the checkpoint
    still loads with torch.load(weights_only=True).
    """

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        np_state = np.random.get_state(legacy=False)
        state = {
            "python": random.getstate(),
            "numpy": {**np_state, "state": {"key": np_state["state"]["key"].tolist(), "pos": np_state["state"]["pos"]}},
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        state["augmentation"] = [
            {"numpy": t.random_generator.bit_generator.state, "python": t.py_random.getstate()}
            for t in _augmentations(trainer)
        ]
        checkpoint[KEY] = state

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        state = checkpoint.get(KEY)
        if state is None:
            return
        random.setstate(_tuples(state["python"]))
        np.random.set_state(
            {
                **state["numpy"],
                "state": {
                    "key": np.asarray(state["numpy"]["state"]["key"], np.uint32),
                    "pos": state["numpy"]["state"]["pos"],
                },
            }
        )
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        augmentations = _augmentations(trainer)
        if len(augmentations) != len(state["augmentation"]):
            log.warning(
                "the checkpoint's augmentation has %d random transforms, this run's %d: augmentation "
                "restarts from the run seed",
                len(state["augmentation"]),
                len(augmentations),
            )
        else:
            for transform, saved in zip(augmentations, state["augmentation"]):
                transform.random_generator.bit_generator.state = saved["numpy"]
                transform.py_random.setstate(_tuples(saved["python"]))


def _tuples(value):
    """random.setstate wants the nested tuples back (a checkpoint round trip may give lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


class StopOnNonFiniteLoss(L.Callback):
    """Stops training at the first NaN/inf training loss, naming the epoch and step."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs  # {}: a skipped batch
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"training loss is {float(loss)} at epoch {trainer.current_epoch}, batch {batch_idx} "
                f"(global step {trainer.global_step}): lower optimizer.lr, or check the inputs of that batch"
            )


class ChannelsLast(L.Callback):
    """Weights and input images in channels-last (NHWC) memory format (`channels_last=true`).

    Convolutions on tensor cores (GPU, with bf16-mixed/16-mixed) run faster in NHWC; results are
    the same up to float rounding.
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)

    def _convert(self, batch) -> None:
        if isinstance(batch, dict) and batch.get("image") is not None and batch["image"].dim() == 4:
            batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._convert(batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._convert(batch)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._convert(batch)


class EMA(EMAWeightAveraging):
    """Lightning's EMAWeightAveraging (callbacks=ema), for fitting only.

    While fitting, validation runs on the average, checkpoints hold it as their state_dict (the raw
    weights as current_model_state, the averaging state beside them: plain tensors, so they load with
    weights_only=True), a resume restores both, and the average replaces the weights when training
    ends. Lightning's callback also acts when a later trainer.test/validate loads a checkpoint: it
    would load the raw weights over the average and swap the final average in for validation. Here
    a checkpoint tested or validated after fitting is used as saved, i.e. its average.
    """

    def _fitting(self, trainer) -> bool:
        return trainer.state.fn == TrainerFn.FITTING

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if self._fitting(trainer):
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if self._fitting(trainer):
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._fitting(trainer):
            super().on_validation_epoch_end(trainer, pl_module)
