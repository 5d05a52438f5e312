"""The classification LightningModule: timm backbone -> head, a loss, metrics, optimiser.

Hyper-parameters are plain config dicts (`_target_` + arguments), so checkpoints load with
torch's weights_only=True anywhere skinlight is installed; the objects are built here.
"""

from __future__ import annotations

import lightning.pytorch as L
import torch
from hydra.utils import instantiate
from torch import Tensor

from skinlight.metrics import classification_metrics
from skinlight.models.backbones import create_backbone


class Classifier(L.LightningModule):
    def __init__(self, backbone: dict, head: dict, loss: dict, optimizer: dict, class_names: list[str],
                 class_counts: list[int] | None = None, scheduler: dict | None = None,
                 monitor: str = "val/balanced_acc", meta_dim: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.backbone = create_backbone(**backbone)
        self.head = instantiate(head, in_features=self.backbone.num_features, num_classes=len(class_names))
        self.criterion = instantiate(loss, class_counts=class_counts)
        self.val_metrics = classification_metrics(class_names, "val/")
        self.test_metrics = classification_metrics(class_names, "test/")
        self.test_outputs: dict[str, Tensor] = {}

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Classifier":
        """Load a checkpoint without fetching the backbone's pretrained weights again."""
        hparams = torch.load(path, map_location="cpu", weights_only=True)["hyper_parameters"]
        backbone = {**hparams["backbone"], "pretrained": False, "weights": None}
        return cls.load_from_checkpoint(path, map_location="cpu", backbone=backbone, **kwargs)

    def forward(self, image: Tensor, meta: Tensor | None = None) -> Tensor:
        return self.head(self.backbone.forward_features(image))

    def _step(self, batch: dict) -> tuple[Tensor, Tensor]:
        logits = self(batch["image"], batch.get("meta"))
        return logits, self.criterion(logits, batch["label"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        _, loss = self._step(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits, loss = self._step(batch)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["label"]))
        self.val_metrics.update(logits.softmax(1), batch["label"])

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.log("val/balanced_acc", values.pop("val/balanced_acc"), prog_bar=True)
        self.log_dict(values)
        self.val_metrics.reset()

    def on_test_epoch_start(self) -> None:
        self.test_outputs = {"probs": [], "labels": []}

    def test_step(self, batch: dict, batch_idx: int) -> None:
        logits, loss = self._step(batch)
        probs = logits.softmax(1)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["label"]))
        self.test_metrics.update(probs, batch["label"])
        self.test_outputs["probs"].append(probs.detach().float().cpu())
        self.test_outputs["labels"].append(batch["label"].cpu())

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        self.test_outputs = {k: torch.cat(v) for k, v in self.test_outputs.items()}

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.monitor}}
