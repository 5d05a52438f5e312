"""Logger glue: a CSV logger that keeps its history across a resume, and a W&B logger that goes offline
without credentials and groups sweep jobs."""

from __future__ import annotations

import csv
import netrc
import os
import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _ContinuedWriter(ExperimentWriter):
    """Lightning's CSV writer, continuing the rows of an existing metrics.csv logged before `step`."""

    def __init__(self, log_dir: str, step: int):
        path = Path(log_dir, self.NAME_METRICS_FILE)
        rows, header = [], []
        if path.is_file():
            with path.open(newline="") as file:
                reader = csv.DictReader(file)
                header = list(reader.fieldnames or [])
                rows = [row for row in reader if row.get("step") and int(float(row["step"])) < step]
            path.unlink()  # rewritten below
        with warnings.catch_warnings():  # the base class's "previous log files will be deleted": they are not
            warnings.simplefilter("ignore")
            super().__init__(log_dir)
        if header:
            self.metrics_keys = sorted(header)
            with path.open("w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(rows)


class ResumableCSVLogger(CSVLogger):
    """CSVLogger that, resuming at global step `resume_step` (train.py sets it from the checkpoint), keeps the
    rows logged before that step: the resumed run's metrics.csv is the whole run's, as if never interrupted
    (the rows of an epoch cut short are dropped; that epoch is trained again). resume_step=None: a new file."""

    def __init__(self, *args, resume_step: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None and self.resume_step is not None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuedWriter(self.log_dir, self.resume_step)
        return super().experiment


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
