"""run(cfg): the one orchestration function behind `python train.py`, for every task.

seed -> task (the model group decides) -> datamodule -> task module -> trainer (callbacks, loggers)
-> fit -> test with the best checkpoint -> split.csv, metrics.json, report/ in the run directory
-> the test metrics. A `Task` holds the little that differs between classification and
segmentation: the input normalisation, the model's own arguments, the report, the headline metrics.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import get_class
from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from skinlight.callbacks import ChannelsLast
from skinlight.data.segmentation import SegmentationDataModule
from skinlight.errors import ConfigError, SkinlightError
from skinlight.evaluation.report import write_classification_report
from skinlight.evaluation.segmentation_report import write_segmentation_report
from skinlight.loggers import finish_loggers
from skinlight.models import segmenter
from skinlight.models.backbones import normalization
from skinlight.run_info import write_run_info
from skinlight.segmentation_losses import SEGMENTATION_LOSS_MODULES

log = logging.getLogger(__name__)


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if cfg is not None else None


def instantiate(config, *args, **kwargs):
    """hydra.utils.instantiate, re-raising a ConfigError/DataError from inside as itself (one clear line)."""
    try:
        return _hydra_instantiate(config, *args, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while isinstance(cause, InstantiationException):
            cause = cause.__cause__
        if isinstance(cause, SkinlightError):
            raise cause from None
        raise


def _classification_report(out_dir: Path, model, datamodule, metrics: dict) -> None:
    outputs = model.test_outputs
    write_classification_report(out_dir, outputs["probs"].numpy(), outputs["labels"].numpy(), datamodule.classes,
                                metrics)


def _segmentation_report(out_dir: Path, model, datamodule, metrics: dict) -> None:
    write_segmentation_report(out_dir, model, datamodule.table[datamodule.table["split"] == "test"])


@dataclass(frozen=True)
class Task:
    name: str
    check: Callable  # cfg -> None: start-up checks of the model config (before any data is read)
    normalization: Callable  # cfg -> (mean, std) of the model's input
    model_args: Callable  # (cfg, datamodule) -> the model's arguments besides loss, optimizer, scheduler
    write_report: Callable  # (report dir, tested model, datamodule, metrics) -> None
    headline: tuple[str, ...]  # logged at the end of a run
    options: dict[str, str]  # group -> the options that fit this task (for error messages)
    loss_modules: tuple[str, ...]  # where this task's own losses live


TASKS = {
    "classification": Task(
        "classification", lambda cfg: None, lambda cfg: normalization(cfg.backbone.name),
        lambda cfg, dm: dict(backbone=_plain(cfg.backbone), head=_plain(cfg.head), class_names=list(dm.classes),
                             class_counts=dm.class_counts, meta_dim=dm.meta_dim),
        _classification_report, ("test/balanced_acc", "test/acc"),
        {"model": "classifier|resnet50", "data": "synthetic|ham10000|isic_binary", "loss": "ce|weighted_ce|focal"},
        ("skinlight.losses",)),
    "segmentation": Task(
        "segmentation", lambda cfg: segmenter.check_network(_plain(cfg.model.net)),
        lambda cfg: segmenter.normalization(_plain(cfg.model.net)),
        lambda cfg, dm: dict(image_size=dm.image_size, mean=list(dm.mean), std=list(dm.std)),
        _segmentation_report, ("test/dice", "test/iou", "test/thresholded_jaccard"),
        {"model": "unet|deeplabv3plus|unet_elgohary", "data": "isic2018|ph2|ham10000_seg",
         "loss": "dice|jaccard|bce|bce_dice|seg_focal"},
        SEGMENTATION_LOSS_MODULES),
}


def _chosen(cfg: DictConfig, group: str) -> str:
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return f"{group}={choices[group]}" if choices.get(group) else f"{group}._target_={cfg[group]._target_}"


def task_of(cfg: DictConfig) -> Task:
    """The model group's task; data or a loss made for the other task stops here, saying what to change."""
    name = "segmentation" if issubclass(get_class(cfg.model._target_), segmenter.Segmenter) else "classification"
    other = next(t for t in TASKS if t != name)
    data_task = "segmentation" if issubclass(get_class(cfg.data._target_), SegmentationDataModule) else "classification"
    if data_task != name or cfg.loss._target_.startswith(tuple(m + "." for m in TASKS[other].loss_modules)):
        group = "data" if data_task != name else "loss"
        raise ConfigError(f"{_chosen(cfg, group)} is for {other} but {_chosen(cfg, 'model')} does {name}: "
                          f"use {group}={TASKS[name].options[group]}, or model={TASKS[other].options['model']}")
    if name == "segmentation" and cfg.get("pipeline"):
        raise ConfigError(f"{_chosen(cfg, 'pipeline')} derives images for a classifier but {_chosen(cfg, 'model')} "
                          "does segmentation: use pipeline=none")
    return TASKS[name]


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    mean, std = task_of(cfg).normalization(cfg)
    augmentation = instantiate(cfg.augmentation.train) if cfg.get("augmentation") else []
    return instantiate(cfg.data, mean=mean, std=std, augmentation=augmentation, _convert_="all")


def build_model(cfg: DictConfig, datamodule) -> L.LightningModule:
    return instantiate(cfg.model, **task_of(cfg).model_args(cfg, datamodule), loss=_plain(cfg.loss),
                       optimizer=_plain(cfg.optimizer), scheduler=_plain(cfg.scheduler) or None,
                       _convert_="all", _recursive_=False)


def build_trainer(cfg: DictConfig) -> L.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if cfg.trainer.get("sync_batchnorm") and trainer.world_size > 1 and not isinstance(trainer.accelerator,
                                                                                        CUDAAccelerator):
        raise ConfigError("trainer.sync_batchnorm=true works on GPUs only: add trainer.sync_batchnorm=false "
                          f"to run DDP on {type(trainer.accelerator).__name__}")
    return trainer


def resolve_ckpt_path(ckpt_path: str | None, run_dir: Path) -> str | None:
    """ckpt_path=last|best -> that checkpoint of this run directory; a checkpoint that is not there stops here."""
    if not ckpt_path:
        return None
    path = run_dir / "checkpoints" / f"{ckpt_path}.ckpt" if ckpt_path in ("last", "best") else Path(ckpt_path)
    if not path.is_file():
        hint = (" (to continue an interrupted run, point hydra.run.dir at its run directory)"
                if ckpt_path in ("last", "best") else "")
        raise ConfigError(f"ckpt_path={ckpt_path}: no checkpoint at {path}{hint}")
    return str(path)


@contextmanager
def ddp_launch_environment():
    """What Lightning's DDP launcher reads, set right for a sweep job, and restored after the run.

    Lightning starts ranks 1.. by running `sys.argv` again with hydra.run.dir=<hydra.run.dir>: in a
    sweep (-m) that would run the whole sweep again, in the wrong folder. For a sweep job the ranks
    get the job's own overrides and its output folder instead. Afterwards the process group is
    closed and the rank variables Lightning puts into os.environ are removed, so that the next job
    of the sweep starts its own ranks.
    """
    environ, argv = dict(os.environ), list(sys.argv)
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    sweep_job = hydra_cfg is not None and hydra_cfg.mode == RunMode.MULTIRUN
    if sweep_job:
        run_dir = hydra_cfg.run.dir
        sys.argv = [argv[0], *hydra_cfg.overrides.task]
        with read_write(hydra_cfg), open_dict(hydra_cfg):
            hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        sys.argv = argv
        os.environ.clear()
        os.environ.update(environ)
        if sweep_job:
            with read_write(hydra_cfg), open_dict(hydra_cfg):
                hydra_cfg.run.dir = run_dir


def speed_options(cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule) -> L.LightningModule:
    """channels_last=true (weights and input batches in NHWC) and compile=true (torch.compile)."""
    if cfg.get("channels_last"):
        trainer.callbacks.append(ChannelsLast())
    return torch.compile(model) if cfg.get("compile") else model


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, float]:
    """Train, test with the best checkpoint, and write the run artefacts into `run_dir`.

    Under DDP every rank runs this; rank 0 alone writes files. Returns the test metrics; when
    `optimized_metric` is the monitored validation metric (hparams_search), also its best value.
    """
    run_dir = Path(run_dir)
    task = task_of(cfg)
    task.check(cfg)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), run_dir)
    L.seed_everything(cfg.seed, workers=True)
    with ddp_launch_environment():
        trainer = build_trainer(cfg)
        if trainer.is_global_zero:
            (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)  # Hydra saved it unresolved: resolve paths etc.
            OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml", resolve=True)
            write_run_info(run_dir / "run_info.json", cfg.seed,
                           list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else [], ckpt_path)
        datamodule = build_datamodule(cfg)
        datamodule.prepare_data()
        datamodule.setup("fit")
        if trainer.is_global_zero:
            datamodule.write_split(run_dir / "split.csv")
        model = build_model(cfg, datamodule)
        trained = speed_options(cfg, trainer, model)
        try:
            trainer.fit(trained, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            if not best:
                log.warning("no best checkpoint (fast_dev_run or no validation): testing the final weights")
            metrics = trainer.test(trained, datamodule=datamodule, ckpt_path=best or None, verbose=False,
                                   weights_only=True)[0]
        finally:
            finish_loggers(trainer.loggers)
    metrics = {k: float(v) for k, v in sorted(metrics.items())}
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        task.write_report(run_dir / "report", model, datamodule, metrics)
        log.info("%s -> %s", " ".join(f"{k}={metrics[k]:.4f}" for k in task.headline), run_dir)
    checkpoint = trainer.checkpoint_callback
    if checkpoint and checkpoint.best_model_score is not None and cfg.get("optimized_metric") == checkpoint.monitor:
        metrics[checkpoint.monitor] = float(checkpoint.best_model_score)  # the score that picked the checkpoint
    return metrics
