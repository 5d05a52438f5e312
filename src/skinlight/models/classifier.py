"""The classification LightningModule: backbone -> head -> [metadata fusion] -> linear classifier.

Hyper-parameters are plain config dicts (`_target_` + arguments) and values (skinlight.models.module),
so checkpoints load with torch's weights_only=True anywhere; the objects are built here.
"""

from __future__ import annotations

import torch
from hydra.utils import get_class, instantiate
from timm.models import create_feature_extractor
from torch import Tensor, nn

from skinlight.distributed import gather_in_order
from skinlight.errors import ConfigError
from skinlight.metrics.classification import BalancedAccuracy, classification_metrics
from skinlight.models.backbones import create_backbone, normalization
from skinlight.models.module import LesionModule
from skinlight.models.optim import check_lr_groups, param_groups


def tap_backbone(backbone: nn.Module, at: int | str | None) -> tuple[nn.Module, int, int | str | None]:
    """Cut `backbone` where the head reads it -> (backbone, channels there, tap).

    at=None: the final feature map (forward_features). An int: a timm feature_info stage (-2: the
    stage before the last); the layers after it are pruned and the map is read with
    forward_intermediates (the tap is the stage's index >= 0). A str: the output of that module of
    the backbone (e.g. "repeat_2", InceptionResNetV2 before its final block), extracted with
    torch.fx; the graph ends there.
    """
    if at is None:
        return backbone, backbone.num_features, None
    name = backbone.pretrained_cfg.get("architecture")
    stages = getattr(backbone, "feature_info", None)
    if isinstance(at, int):
        if not hasattr(backbone, "forward_intermediates") or not stages:
            raise ConfigError(f"model.features_at={at}: {name} has no timm feature stages; give a module name")
        if not -len(stages) <= at < len(stages):
            listed = ", ".join(f"{i} {f['module']} ({f['num_chs']} ch)" for i, f in enumerate(stages))
            raise ConfigError(f"model.features_at={at} is not a stage of {name}; stages: {listed}")
        index = at % len(stages)
        backbone.prune_intermediate_layers([index], prune_norm=True, prune_head=True)
        return backbone, stages[index]["num_chs"], index
    try:
        cut = create_feature_extractor(backbone, return_nodes=[at])
    except ValueError as e:
        hint = [f["module"] for f in stages] if stages else []
        raise ConfigError(f"model.features_at={at!r} is not a module of {name} (stage outputs: {hint})") from e
    was_training = cut.training
    with torch.no_grad():
        channels = cut.eval()(torch.zeros(1, *backbone.pretrained_cfg["input_size"]))[at].shape[1]
    return cut.train(was_training), channels, at


class Classifier(LesionModule):
    """Image classifier: backbone feature map -> head (image features) -> metadata fusion (meta=,
    optional) -> linear classifier. `features_at` is where the head reads the backbone (see
    tap_backbone); `meta` a skinlight.models.fusion config, which needs the fitted metadata encoding
    (`metadata`: skinlight.data.metadata.MetadataEncoder.state()). `mean`/`std` default to the
    backbone's pretrained statistics; `data` is the fingerprint of the training data (its config,
    root, split.csv hash, images per split).

    Training options: `mixup` (a skinlight.models.mixing config) mixes the training batches;
    `lr_groups` (backbone_scale, layer_decay) sets the backbone's learning rates
    (skinlight.models.optim.param_groups); the backbone is frozen (no gradients, BatchNorm statistics
    kept) in the first `freeze_backbone_epochs` epochs; `drop_path_rate` is timm's stochastic depth of
    the backbone's blocks (null: the model's default)."""

    TASK = "classification"

    def __init__(
        self,
        backbone: dict,
        head: dict,
        loss: dict,
        optimizer: dict,
        class_names: list[str],
        class_counts: list[int] | None = None,
        scheduler: dict | None = None,
        monitor: str = "val/balanced_acc",
        meta: dict | None = None,
        features_at: int | str | None = None,
        metadata: dict | None = None,
        image_size: int = 224,
        resize: str = "squash",
        preprocess: list[dict] | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        data: dict | None = None,
        mixup: dict | None = None,
        lr_groups: dict | None = None,
        freeze_backbone_epochs: int = 0,
        drop_path_rate: float | None = None,
    ):
        super().__init__()
        if mean is None or std is None:
            mean, std = map(list, normalization(backbone["name"]))
        self.save_hyperparameters()
        self.set_normalization(mean, std)
        timm_options = {} if drop_path_rate is None else {"drop_path_rate": drop_path_rate}
        self.backbone, channels, self.tap = tap_backbone(create_backbone(**backbone, **timm_options), features_at)
        self.head = instantiate(head, in_features=channels)
        meta_dim = metadata["dim"] if metadata else 0
        self.fusion = instantiate(meta, image_features=self.head.out_features, meta_dim=meta_dim) if meta else None
        self.classifier = nn.Linear((self.head if self.fusion is None else self.fusion).out_features, len(class_names))
        self.criterion = instantiate(loss, class_counts=class_counts)
        smoothing = loss.get("label_smoothing", 0.0)
        self.mixing = instantiate(mixup, num_classes=len(class_names), label_smoothing=smoothing) if mixup else None
        self.train_balanced_acc = BalancedAccuracy(len(class_names))  # for the learning curves
        self.val_metrics = classification_metrics(class_names, "val/")
        self.test_metrics = classification_metrics(class_names, "test/")
        self.test_outputs: dict[str, Tensor] = {}

    @staticmethod
    def check_config(config: dict) -> None:
        check_lr_groups(config.get("lr_groups"))
        epochs = config.get("freeze_backbone_epochs", 0)
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
            raise ConfigError(f"model.freeze_backbone_epochs={epochs!r} must be an integer >= 0")
        rate = config.get("drop_path_rate")
        if rate is not None and (not isinstance(rate, (int, float)) or not 0 <= rate < 1):
            raise ConfigError(f"model.drop_path_rate={rate!r} must be null or a number in [0, 1)")
        loss = config["loss"]["_target_"]
        if config.get("mixup") and not getattr(get_class(loss), "SOFT_TARGETS", False):
            raise ConfigError(
                f"mixup (model.mixup) makes soft targets, which loss._target_={loss} does not take: "
                "use loss=ce or loss=weighted_ce, or mixup=none"
            )

    @staticmethod
    def offline_hparams(hparams: dict) -> dict:
        return {"backbone": {**hparams["backbone"], "pretrained": False, "weights": None}}

    def feature_map(self, image: Tensor) -> Tensor:
        """The backbone's feature map where the head reads it (B, C, h, w), of images in [0, 1]."""
        image = self.normalize(image)
        if self.tap is None:
            return self.backbone.forward_features(image)
        if isinstance(self.tap, int):
            return self.backbone.forward_intermediates(image, indices=[self.tap], intermediates_only=True)[0]
        return self.backbone(image)[self.tap]

    def forward(self, image: Tensor, meta: Tensor | None = None) -> Tensor:
        features = self.head(self.feature_map(image))
        if self.fusion is not None:
            if meta is None:
                raise ValueError(
                    f"this model fuses patient metadata (meta={self.fusion.option}): pass the "
                    "metadata vector (batch['meta']) with the image"
                )
            features = self.fusion(features, meta)
        return self.classifier(features)

    def optimizer_params(self):
        """One group, or with model.lr_groups the backbone's groups and the head's (head, fusion, classifier)."""
        spec = self.hparams.lr_groups or {}
        if spec.get("backbone_scale", 1.0) == 1.0 and spec.get("layer_decay") is None:
            return self.parameters()
        others = [m for m in (self.head, self.fusion, self.classifier) if m is not None]
        return param_groups(self.backbone, others, self.hparams.optimizer.get("lr"), **spec)

    def on_train_epoch_start(self) -> None:
        """The backbone frozen in the first model.freeze_backbone_epochs epochs (the epoch decides: resumes too)."""
        if not self.hparams.freeze_backbone_epochs:
            return
        frozen = self.current_epoch < self.hparams.freeze_backbone_epochs
        self.backbone.requires_grad_(not frozen)
        self.backbone.train(not frozen)  # eval: BatchNorm statistics (and dropout) fixed while frozen

    def _step(self, batch: dict) -> tuple[Tensor, Tensor]:
        logits = self(batch["image"], batch.get("meta"))
        return logits, self.criterion(logits, batch["label"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        image, meta, target = batch["image"], batch.get("meta"), batch["label"]
        if self.mixing is not None:
            image, meta, target = self.mixing(image, meta, target)
        logits = self(image, meta)
        loss = self.criterion(logits, target)
        self.log_loss("train", loss, len(target))
        labels = target if target.ndim == 1 else target.argmax(1)  # a mixed image counts as its larger share's class
        self.train_balanced_acc(logits.detach(), labels)  # on augmented (or resampled, mixed) batches
        self.log("train/balanced_acc", self.train_balanced_acc, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits, loss = self._step(batch)
        self.log_loss("val", loss, len(batch["label"]))
        self.val_metrics.update(logits.softmax(1), batch["label"])

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()  # torchmetrics syncs the states of all DDP ranks
        self.log("val/balanced_acc", values.pop("val/balanced_acc"), prog_bar=True, sync_dist=True)
        self.log_dict(values, sync_dist=True)  # the same value on every rank: the mean leaves it as it is
        self.val_metrics.reset()

    def on_test_epoch_start(self) -> None:
        self.test_outputs = {"probs": [], "labels": []}

    def test_step(self, batch: dict, batch_idx: int) -> None:
        logits, loss = self._step(batch)
        probs = logits.softmax(1)
        self.log_loss("test", loss, len(batch["label"]))
        self.test_metrics.update(probs, batch["label"])
        self.test_outputs["probs"].append(probs.detach().float())
        self.test_outputs["labels"].append(batch["label"])

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute(), sync_dist=True)  # synced states (torchmetrics), as in validation
        self.test_metrics.reset()
        self.test_outputs = {k: gather_in_order(self, torch.cat(v)).cpu() for k, v in self.test_outputs.items()}
