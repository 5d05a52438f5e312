"""What every skinlight LightningModule shares: the task it declares, input normalisation, the optimiser
and scheduler wiring, and the record that makes its checkpoints self-describing.

Hyper-parameters are plain values (config dicts with `_target_`, numbers, lists), so a checkpoint
loads with torch's weights_only=True anywhere skinlight is installed, and holds everything inference
needs: the network config, the input size and resize policy, the normalisation, what the model
learned from its data (class names, the metadata encoding) and a fingerprint of that data.
skinlight.checkpoints.load_checkpoint reads it back.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import lightning.pytorch as L
import torch
from hydra.utils import instantiate
from torch import Tensor

from skinlight.models.optim import lr_scheduler_config

RECORD_KEY = "skinlight"  # checkpoint[RECORD_KEY] = {"task": ..., "version": ...}


def _skinlight_version() -> str | None:
    try:
        return version("skinlight")
    except PackageNotFoundError:
        return None


class LesionModule(L.LightningModule):
    """Base of the classification and segmentation modules; `TASK` names the task (train.py checks the
    data and loss against it). Subclasses call `set_normalization` in their constructor."""

    TASK = ""

    def set_normalization(self, mean, std) -> None:
        """Inputs arrive in [0, 1] (skinlight.data.transforms); the network sees (x - mean) / std."""
        self.register_buffer("input_mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def normalize(self, image: Tensor) -> Tensor:
        return (image - self.input_mean) / self.input_std

    def log_loss(self, stage: str, loss: Tensor, batch_size: int) -> None:
        """`<stage>/loss` per epoch, averaged over DDP ranks (in the progress bar but for test)."""
        self.log(
            f"{stage}/loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "test",
            batch_size=batch_size,
            sync_dist=True,
        )

    @staticmethod
    def check_config(config: dict) -> None:
        """Start-up checks of the model config (before any data is read); a problem is a ConfigError."""

    @staticmethod
    def offline_hparams(hparams: dict) -> dict:
        """Hyper-parameter overrides that rebuild the network without fetching pretrained weights
        (the checkpoint's weights replace them)."""
        return {}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[RECORD_KEY] = {"task": self.TASK, "version": _skinlight_version()}

    def optimizer_params(self):
        """What the optimizer trains: every parameter in one group (a subclass may return param groups)."""
        return self.parameters()

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer, _partial_=True)(self.optimizer_params())  # groups stay dicts
        if not self.hparams.scheduler:
            return optimizer
        scheduler = lr_scheduler_config(self.hparams.scheduler, optimizer, self)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
