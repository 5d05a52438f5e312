"""Logger glue: a W&B logger that goes offline without credentials and groups sweep jobs."""

from __future__ import annotations

import netrc
import os

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode


def _wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_logger(offline: bool | None = None, group: str | None = None, **kwargs):
    """WandbLogger; offline=None means offline unless an API key or login exists, group=None
    means the sweep directory in a multirun (so a sweep's jobs share a W&B group)."""
    from lightning.pytorch.loggers import WandbLogger

    if offline is None:
        offline = not _wandb_credentials()
    if group is None and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        group = HydraConfig.get().sweep.dir
    return WandbLogger(offline=offline, group=group, **kwargs)


def finish_loggers(loggers) -> None:
    """Close W&B runs so that the next job of a sweep starts its own run, even after a failure."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()
