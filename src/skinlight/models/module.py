"""What every skinlight LightningModule shares: the task it declares, input normalisation, the optimiser
and scheduler wiring, and the record that makes its checkpoints self-describing.

Hyper-parameters are plain values (config dicts with `_target_`, numbers, lists), so a checkpoint
loads with torch's weights_only=True anywhere skinlight is installed, and holds everything inference
needs: the network config, the input size and resize policy, the normalisation, what the model
learned from its data (class names, the metadata encoding) and a fingerprint of that data.
skinlight.checkpoints.load_checkpoint reads it back.

The same record and hyper-parameters make a Hugging Face model folder (huggingface_hub's
PyTorchModelHubMixin): `module.save_pretrained(folder)` writes model.safetensors and config.json,
`Classifier.from_pretrained(folder or Hub repo id)` rebuilds the network offline and loads the weights
strictly (skinlight-export --format hf adds the model card).
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import lightning.pytorch as L
import torch
from huggingface_hub import PyTorchModelHubMixin
from hydra.utils import instantiate
from torch import Tensor

from skinlight.errors import CheckpointError
from skinlight.models.optim import lr_scheduler_config

RECORD_KEY = "skinlight"  # checkpoint[RECORD_KEY] = {"task": ..., "version": ...}


def _skinlight_version() -> str | None:
    try:
        return version("skinlight")
    except PackageNotFoundError:
        return None


class LesionModule(L.LightningModule, PyTorchModelHubMixin, library_name="skinlight", tags=["dermoscopy"]):
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

    def record(self) -> dict:
        """The record of a checkpoint or model folder: the task and the skinlight version that wrote it."""
        return {"task": self.TASK, "version": _skinlight_version()}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[RECORD_KEY] = self.record()

    def _save_pretrained(self, save_directory: Path) -> None:
        """model.safetensors (the mixin's) and config.json: the record and the hyper-parameters."""
        super()._save_pretrained(save_directory)
        config = {RECORD_KEY: self.record(), **dict(self.hparams)}
        (save_directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def _from_pretrained(cls, *, config: dict | None = None, strict: bool = True, **kwargs):
        """The mixin's loader, for a folder of this task only, built offline, its weights loaded strictly."""
        task = (config or {}).get(RECORD_KEY, {}).get("task")
        if task != cls.TASK:
            found = f"a {task} model" if task else "no config.json with a skinlight record"
            raise CheckpointError(
                f"{kwargs['model_id']} holds {found}; {cls.__name__}.from_pretrained takes a {cls.TASK} model folder "
                "(skinlight-export CKPT --format hf) or its Hub repo id"
            )
        hparams = {k: v for k, v in config.items() if k != RECORD_KEY}
        return super()._from_pretrained(strict=strict, **{**kwargs, **cls.offline_hparams(hparams)})

    def optimizer_params(self):
        """What the optimizer trains: every parameter in one group (a subclass may return param groups)."""
        return self.parameters()

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer, _partial_=True)(self.optimizer_params())  # groups stay dicts
        if not self.hparams.scheduler:
            return optimizer
        scheduler = lr_scheduler_config(self.hparams.scheduler, optimizer, self)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
