"""run(cfg): the one orchestration function behind `python train.py`.

seed -> datamodule -> task module -> trainer (callbacks, loggers) -> fit -> test with the best
checkpoint -> split.csv, metrics.json, report/ in the run directory -> the test metrics.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning.pytorch as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from skinlight.evaluation.report import write_classification_report
from skinlight.loggers import finish_loggers
from skinlight.models.backbones import normalization

log = logging.getLogger(__name__)


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if cfg is not None else None


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    mean, std = normalization(cfg.backbone.name)
    augmentation = instantiate(cfg.augmentation.train) if cfg.get("augmentation") else []
    return instantiate(cfg.data, mean=mean, std=std, augmentation=augmentation, _convert_="all")


def build_model(cfg: DictConfig, datamodule) -> L.LightningModule:
    return instantiate(cfg.model, backbone=_plain(cfg.backbone), head=_plain(cfg.head), loss=_plain(cfg.loss),
                       optimizer=_plain(cfg.optimizer), scheduler=_plain(cfg.scheduler) or None,
                       class_names=list(datamodule.classes), class_counts=datamodule.class_counts,
                       meta_dim=datamodule.meta_dim, _convert_="all", _recursive_=False)


def build_trainer(cfg: DictConfig) -> L.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, float]:
    """Train, test with the best checkpoint, and write the run artefacts into `run_dir`."""
    run_dir = Path(run_dir)
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)  # Hydra saved it unresolved: resolve paths etc.
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml", resolve=True)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.write_split(run_dir / "split.csv")
    model = build_model(cfg, datamodule)
    trainer = build_trainer(cfg)
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best:
            log.warning("no best checkpoint (fast_dev_run or no validation): testing the final weights")
        metrics = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)[0]
    finally:
        finish_loggers(trainer.loggers)
    metrics = {k: float(v) for k, v in sorted(metrics.items())}
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        outputs = model.test_outputs
        write_classification_report(run_dir / "report", outputs["probs"].numpy(), outputs["labels"].numpy(),
                                    datamodule.classes, metrics)
        log.info("test/balanced_acc=%.4f test/acc=%.4f -> %s", metrics["test/balanced_acc"], metrics["test/acc"], run_dir)
    return metrics
