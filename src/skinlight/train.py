"""run(cfg): the one orchestration function behind `python train.py`, for every task.

seed -> datamodule (one instantiate of cfg.data) -> model (one instantiate of cfg.model, plus what the
data taught it) -> trainer (callbacks, loggers) -> fit -> test with the best checkpoint -> split.csv,
metrics.json, report/ in the run directory, and the report to each tracker -> the test metrics. The task is
declared by the classes themselves (their TASK): the model's, the data's and the loss's must agree.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import lightning.pytorch as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import get_class, get_object
from hydra.utils import instantiate as _hydra_instantiate
from lightning.pytorch.accelerators import CUDAAccelerator
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from skinlight.callbacks import ChannelsLast
from skinlight.errors import ConfigError, SkinlightError
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.tta import mask_views
from skinlight.loggers import ResumableCSVLogger, finish_loggers, publish_report
from skinlight.metrics.bootstrap import Bootstrap, classification_intervals, segmentation_intervals
from skinlight.reports.classification import write_classification_outputs
from skinlight.reports.curves import plot_learning_curves
from skinlight.reports.html import write_run_report
from skinlight.reports.segmentation import write_segmentation_report
from skinlight.rundir import RunDir, write_run_info

log = logging.getLogger(__name__)
HEADLINE = {
    "classification": ("test/balanced_acc", "test/acc"),
    "segmentation": ("test/dice", "test/iou", "test/thresholded_jaccard"),
}


def _plain(cfg) -> dict | None:
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


def _declared_task(target: str) -> str | None:
    return getattr(get_class(target), "TASK", None) or None


def _chosen(group: str, cfg_node) -> str:
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return f"{group}={choices[group]}" if choices.get(group) else f"{group}._target_={cfg_node._target_}"


def options_for(group: str, task: str) -> list[str]:
    """The options of a config group whose class declares `task` (read from conf/<group>/*.yaml), for messages."""
    if not HydraConfig.initialized():
        return []
    found = []
    for source in HydraConfig.get().runtime.config_sources:
        if source.provider != "main" or source.schema != "file":
            continue
        for path in sorted(Path(source.path, group).glob("[!_]*.yaml")):  # _name.yaml: a base, no option
            node = OmegaConf.load(path)  # a group option's own file: its _target_ (or its package's, for _global_)
            target = node.get("_target_") or OmegaConf.select(node, f"{group}._target_")
            parent = next((d for d in node.get("defaults", []) if isinstance(d, str) and d != "_self_"), None)
            if target is None and parent and (path.parent / f"{parent.split('@')[0]}.yaml").is_file():
                parent_node = OmegaConf.load(path.parent / f"{parent.split('@')[0]}.yaml")
                target = parent_node.get("_target_") or OmegaConf.select(parent_node, f"{group}._target_")
            try:
                declared = _declared_task(target) if target else None
            except Exception:  # a class that cannot be imported here is no option to suggest
                declared = None
            if declared == task:
                found.append(path.stem)
    return found


def check_task(cfg: DictConfig) -> str:
    """The model's task; data or a loss made for another task stops here, saying what to change."""
    task = _declared_task(cfg.model._target_)
    if task is None:
        raise ConfigError(
            f"model._target_={cfg.model._target_} declares no TASK: use a skinlight module "
            "(model=classifier, resnet50, unet, ...)"
        )
    for group, node in (("data", cfg.data), ("loss", cfg.model.loss)):
        other = _declared_task(node._target_)
        if other is not None and other != task:
            fitting = "|".join(options_for(group, task)) or f"a {task} {group}"
            models = "|".join(options_for("model", other)) or f"a {other} model"
            raise ConfigError(
                f"{_chosen(group, node)} is for {other} but {_chosen('model', cfg.model)} does {task}: "
                f"use {group}={fitting}, or model={models}"
            )
    return task


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """cfg.data, with its parts (augmentation, sampler, pipeline) interpolated in, as one instantiate."""
    return instantiate(cfg.data, _convert_="all")


def build_model(cfg: DictConfig, datamodule) -> L.LightningModule:
    """cfg.model names every part (backbone, head, meta, loss, optimizer, scheduler); the datamodule adds
    what the data taught (class names and counts, the metadata encoding) and its fingerprint."""
    data = {"config": _plain(cfg.data), **datamodule.fingerprint()}
    return instantiate(cfg.model, **datamodule.model_inputs(), data=data, _convert_="all", _recursive_=False)


def build_trainer(cfg: DictConfig, ckpt_path: str | None = None) -> L.Trainer:
    """The Trainer with cfg's callbacks and loggers; resuming from `ckpt_path`, the CSV log continues."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    # mmap: only the step is read here (Lightning loads the checkpoint itself in fit)
    resume_step = (
        torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)["global_step"] if ckpt_path else None
    )
    loggers = [
        instantiate(c, resume_step=resume_step) if _is_resumable(c) else instantiate(c)
        for c in (cfg.get("logger") or {}).values()
        if c
    ]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if (
        cfg.trainer.get("sync_batchnorm")
        and trainer.world_size > 1
        and not isinstance(trainer.accelerator, CUDAAccelerator)
    ):
        raise ConfigError(
            "trainer.sync_batchnorm=true works on GPUs only: add trainer.sync_batchnorm=false "
            f"to run DDP on {type(trainer.accelerator).__name__}"
        )
    return trainer


def _is_resumable(logger_cfg) -> bool:
    target = get_object(logger_cfg._target_)  # a class, or a function that builds one (skinlight.loggers.wandb_logger)
    return isinstance(target, type) and issubclass(target, ResumableCSVLogger)


def resolve_ckpt_path(ckpt_path: str | None, run_dir: RunDir) -> str | None:
    """ckpt_path=last|best -> that checkpoint of this run directory; a checkpoint that is not there stops here."""
    if not ckpt_path:
        return None
    path = run_dir.checkpoint(ckpt_path) if ckpt_path in ("last", "best") else Path(ckpt_path)
    if not path.is_file():
        hint = (
            " (to continue an interrupted run, point hydra.run.dir at its run directory)"
            if ckpt_path in ("last", "best")
            else ""
        )
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


def mask_test_options(cfg: DictConfig, task: str) -> dict:
    """The Segmenter's test_views and test_postprocess from the tta and postprocess groups (none: unchanged);
    other than none for a classifier stops here (its TTA belongs to eval.py)."""
    tta, post = cfg.get("tta"), cfg.get("postprocess")
    chosen = [
        f"{group}={node.name}" for group, node in (("tta", tta), ("postprocess", post)) if node and node.name != "none"
    ]
    if task != "segmentation":
        if chosen:
            raise ConfigError(
                f"{', '.join(chosen)}: training's test step takes these for segmentation only; a classifier's "
                "TTA runs in eval.py (python eval.py ckpt_path=... tta=d4)"
            )
        return {}
    views = mask_views(tta.views, tta.get("crops")) if tta else {}
    return {"test_views": views if len(views) > 1 else None, "test_postprocess": PostProcess.from_config(post)}


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, float]:
    """Train, test with the best checkpoint, and write the run artefacts into `run_dir`.

    Under DDP every rank runs this; rank 0 alone writes files. Returns the test metrics; when
    `optimized_metric` is set (hparams_search), also that metric's value for the sweeper (sweep_value).
    """
    run_dir = RunDir(run_dir)
    task = check_task(cfg)
    get_class(cfg.model._target_).check_config(_plain(cfg.model))
    test_options = mask_test_options(cfg, task)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), run_dir)
    bootstrap = Bootstrap.from_config(cfg.get("intervals"))  # checked before training, used after the test
    L.seed_everything(cfg.seed, workers=True)
    with ddp_launch_environment():
        trainer = build_trainer(cfg, ckpt_path)
        datamodule = build_datamodule(cfg)
        protocol = datamodule.protocol
        if protocol.leaks():
            log.warning(
                "data.protocol=%s, the paper's own protocol, leaks: %s. Its test score is not comparable "
                "with honest runs (data.protocol=honest, the default).",
                protocol.name,
                "; ".join(protocol.leaks()),
            )
        if trainer.is_global_zero:
            run_dir.config.parent.mkdir(parents=True, exist_ok=True)  # Hydra saved it unresolved: resolve paths etc.
            OmegaConf.save(cfg, run_dir.config, resolve=True)
            write_run_info(
                run_dir.run_info,
                cfg.seed,
                list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else [],
                ckpt_path,
                protocol.record(),
            )
        datamodule.prepare_data()
        datamodule.setup("fit")
        if trainer.is_global_zero:
            datamodule.write_split(run_dir.split)
        model = build_model(cfg, datamodule)
        for name, value in test_options.items():
            setattr(model, name, value)
        trained = speed_options(cfg, trainer, model)
        try:
            trainer.fit(trained, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            fitted = {k: float(v) for k, v in trainer.callback_metrics.items()}  # the last logged values
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            if not best:
                log.warning("no best checkpoint (fast_dev_run or no validation): testing the final weights")
            metrics = trainer.test(
                trained, datamodule=datamodule, ckpt_path=best or None, verbose=False, weights_only=True
            )[0]
            metrics = {k: float(v) for k, v in sorted(metrics.items())}
            if trainer.is_global_zero:
                test_rows = tested_rows(task, model, datamodule.table)
                metrics.update(test_intervals(task, model, test_rows, bootstrap))
                run_dir.write_metrics(metrics)
                write_report(task, run_dir, model, datamodule.classes, test_rows, metrics, bootstrap)
                plot_learning_curves(run_dir.logged_metrics, run_dir.report / "learning_curves.png")
                write_run_report(run_dir)
                publish_report(trainer.loggers, run_dir, trainer.global_step)
                log.info("%s -> %s", " ".join(f"{k}={metrics[k]:.4f}" for k in HEADLINE[task]), run_dir.path)
        finally:
            finish_loggers(trainer.loggers)
    if cfg.get("optimized_metric"):
        name = cfg.optimized_metric
        metrics[name] = sweep_value(name, metrics, fitted, trainer.checkpoint_callback)
    return metrics


def sweep_value(name: str, metrics: dict, fitted: dict, checkpoint) -> float:
    """What a run returns to a sweeper for `optimized_metric`: the monitored metric's checkpoint score (its best
    value), a test metric, or, without a checkpoint score (fast_dev_run), the metric's last logged value."""
    if checkpoint and checkpoint.monitor == name and checkpoint.best_model_score is not None:
        return float(checkpoint.best_model_score)  # the score that picked the checkpoint
    if name in metrics:
        return metrics[name]
    if name in fitted:
        log.warning("optimized_metric=%s has no checkpoint score (fast_dev_run?): returning its last value", name)
        return fitted[name]
    raise ConfigError(
        f"optimized_metric={name} is not a metric of this run; use one of {', '.join(sorted(fitted))} "
        f"or {', '.join(sorted(metrics))}"
    )


def tested_rows(task: str, model, table):
    """The rows of the test images the model was tested on, in its outputs' order: the test split's, or its first
    batches' with fast_dev_run / trainer.limit_test_batches (the test loader keeps the table's order)."""
    rows = table[table["split"] == "test"]
    if task == "classification":
        return rows.iloc[: len(model.test_outputs["labels"])]
    return rows.set_index("image_id").loc[model.test_outputs["image_id"]].reset_index()  # this process's images


def test_intervals(task: str, model, test_rows, bootstrap: Bootstrap) -> dict[str, float]:
    """The lesion-bootstrap intervals of the tested model's headline metrics (skinlight.metrics.bootstrap)."""
    outputs = model.test_outputs
    if task == "classification":
        probs, labels = outputs["probs"].numpy(), outputs["labels"].numpy()
        return classification_intervals(
            bootstrap, probs, labels, test_rows["lesion_id"], model.hparams.class_names, "test/"
        )
    return segmentation_intervals(bootstrap, outputs, test_rows["lesion_id"], "test/")


def write_report(task: str, run_dir: RunDir, model, classes, test_rows, metrics: dict, bootstrap: Bootstrap) -> None:
    """predictions.csv (classification) and report/ of a tested model: figures and tables of its test outputs."""
    if task == "classification":
        outputs = model.test_outputs
        probs, labels = outputs["probs"].numpy(), outputs["labels"].numpy()
        write_classification_outputs(run_dir, test_rows, probs, labels, classes, metrics, bootstrap)
    else:
        write_segmentation_report(run_dir.report, model, test_rows)
