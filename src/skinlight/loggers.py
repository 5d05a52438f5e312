"""Logger glue: a CSV logger that keeps its history across a resume; W&B and MLflow loggers that work without a
server or credentials and group sweep jobs; and `publish_report`, which sends a tested run's report (figures,
tables, metrics with intervals, predictions, best checkpoint) to every tracker of the run."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import logging
import math
import netrc
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from PIL import Image

from skinlight.errors import ConfigError
from skinlight.reports.html import metrics_table
from skinlight.rundir import RunDir

log = logging.getLogger(__name__)


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


def _sweep_group(group: str | None) -> str | None:
    """group, or None: the sweep directory in a multirun (so that a sweep's jobs share a group)."""
    if group is None and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return HydraConfig.get().sweep.dir
    return group


def _require(package: str) -> None:
    """A ConfigError naming logger=<package> and how to install it, where the package is missing."""
    if importlib.util.find_spec(package) is None:
        raise ConfigError(f'logger={package} needs the {package} package: pip install -e ".[loggers]"')


def wandb_logger(offline: bool | None = None, group: str | None = None, **kwargs) -> WandbLogger:
    """WandbLogger; offline=None means offline unless an API key or login exists, group=None
    means the sweep directory in a multirun (so a sweep's jobs share a W&B group)."""
    _require("wandb")
    if offline is None:
        offline = not _wandb_credentials()
    return WandbLogger(offline=offline, group=_sweep_group(group), **kwargs)


def mlflow_logger(
    tracking_uri: str | None = None, group: str | None = None, tags: dict | None = None, **kwargs
) -> MLFlowLogger:
    """MLFlowLogger; tracking_uri=None means $MLFLOW_TRACKING_URI, else an sqlite store in mlruns/ of the directory
    you run from (MLflow 3 refuses its old file store unless MLFLOW_ALLOW_FILE_STORE=true). The run is tagged with
    its group (group=None: the sweep directory in a multirun) and its run directory."""
    _require("mlflow")
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlruns/mlflow.db"
    if tracking_uri.startswith("sqlite:///"):  # sqlite creates the file, not its folder
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    tags = dict(tags or {})
    if group := _sweep_group(group):
        tags["group"] = group
    if HydraConfig.initialized():
        tags["run_dir"] = HydraConfig.get().runtime.output_dir
    return MLFlowLogger(tracking_uri=tracking_uri, tags=tags, **kwargs)


def finish_loggers(loggers) -> None:
    """Close W&B runs (so that the next job of a sweep starts its own run) and flush TensorBoard's event file,
    even after a failure."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()
        elif isinstance(logger, TensorBoardLogger) and logger._experiment is not None:
            logger.experiment.close()


@dataclass(frozen=True)
class RunReport:
    """What a tested run shows a tracker, read from its run directory: the figures of report/, its tables (every
    report/*.csv, and `metrics`: each test metric with its interval), the test predictions (a classifier's
    predictions.csv, with a `correct` column), metrics.json and the best checkpoint."""

    images: list[Path]
    tables: dict[str, pd.DataFrame]
    predictions: pd.DataFrame | None
    metrics: dict[str, float]
    checkpoint: Path | None

    @classmethod
    def read(cls, run_dir: RunDir) -> RunReport:
        metrics = json.loads(run_dir.metrics.read_text())
        tables = {p.stem: pd.read_csv(p) for p in sorted(run_dir.report.glob("*.csv"))}
        predictions = None
        if run_dir.predictions.is_file():
            predictions = pd.read_csv(run_dir.predictions)
            predictions["correct"] = predictions["label"] == predictions["prediction"]
        checkpoint = run_dir.checkpoint("best")
        return cls(
            images=sorted(run_dir.report.glob("*.png")),
            tables={"metrics": metrics_table(metrics), **tables},
            predictions=predictions,
            metrics=metrics,
            checkpoint=checkpoint if checkpoint.is_file() else None,
        )


def _checkpoint_record(path: Path) -> str:
    """A checkpoint named by path, size and SHA-256 (for a tracker that stores no files)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"`{path}`: {path.stat().st_size} bytes, sha256 {digest.hexdigest()}"


def _thumbnail(path: str, size: int) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
    image.thumbnail((size, size))
    return image


def _to_wandb(logger: WandbLogger, report: RunReport, step: int, thumbnail: int) -> None:
    """Images, tables (the predictions with thumbnails), the metrics in the run summary, the checkpoint as a
    `model` artifact aliased best."""
    import wandb

    run = logger.experiment
    logged = {f"report/{p.stem}": wandb.Image(str(p)) for p in report.images}
    logged.update({f"report/{name}": wandb.Table(dataframe=table) for name, table in report.tables.items()})
    if report.predictions is not None:
        table = report.predictions.drop(columns="path")
        images = [wandb.Image(_thumbnail(p, thumbnail)) for p in report.predictions["path"]]
        rows = [[image, *row] for image, row in zip(images, table.itertuples(index=False))]
        logged["report/predictions"] = wandb.Table(columns=["image", *table.columns], data=rows)
    run.log({**logged, "trainer/global_step": step})
    run.summary.update(report.metrics)
    if report.checkpoint:
        artifact = wandb.Artifact(f"model-{run.id}", type="model", metadata={"checkpoint": str(report.checkpoint)})
        artifact.add_file(str(report.checkpoint))
        run.log_artifact(artifact, aliases=["best"])


def _to_tensorboard(logger: TensorBoardLogger, report: RunReport, step: int, thumbnail: int) -> None:
    """Images; tables as markdown text (not the predictions: thousands of rows); the checkpoint's path and
    SHA-256 as text (TensorBoard keeps no files)."""
    writer = logger.experiment
    for path in report.images:
        with Image.open(path) as image:
            writer.add_image(f"report/{path.stem}", np.asarray(image.convert("RGB")), step, dataformats="HWC")
    for name, table in report.tables.items():
        writer.add_text(f"report/{name}", table.to_markdown(index=False), step)
    if report.checkpoint:
        writer.add_text("checkpoint", _checkpoint_record(report.checkpoint), step)
    writer.flush()


def _to_mlflow(logger: MLFlowLogger, report: RunReport, step: int, thumbnail: int) -> None:
    """Images under report/, tables as MLflow tables (report/<name>.json), every metric of metrics.json (the
    intervals too), the checkpoint as the run's logged model `best` (MLflow 3's Models tab)."""
    from mlflow.entities import Metric

    client, run_id = logger.experiment, logger.run_id
    for path in report.images:
        client.log_artifact(run_id, str(path), "report")
    tables = dict(report.tables)
    if report.predictions is not None:
        tables["predictions"] = report.predictions
    for name, table in tables.items():
        client.log_table(run_id, table, f"report/{name}.json")
    now = int(time.time() * 1000)
    finite = [Metric(k, float(v), now, step) for k, v in report.metrics.items() if math.isfinite(float(v))]
    client.log_batch(run_id, metrics=finite)
    if report.checkpoint:
        experiment_id = client.get_run(run_id).info.experiment_id
        model = client.create_logged_model(
            experiment_id, name="best", source_run_id=run_id, model_type="lightning-checkpoint"
        )
        client.log_model_artifact(model.model_id, str(report.checkpoint))
        client.finalize_logged_model(model.model_id, "READY")


PUBLISHERS = ((WandbLogger, _to_wandb), (TensorBoardLogger, _to_tensorboard), (MLFlowLogger, _to_mlflow))


def publish_report(loggers, run_dir: RunDir, step: int, thumbnail: int = 64) -> None:
    """Send the tested run's report (RunReport) to each W&B, TensorBoard and MLflow logger among `loggers`. A
    tracker that fails gets a warning naming it: the run directory holds everything already."""
    trackers = [(logger, send) for logger in loggers for kind, send in PUBLISHERS if isinstance(logger, kind)]
    if not trackers:
        return
    report = RunReport.read(run_dir)
    for logger, send in trackers:
        try:
            send(logger, report, step, thumbnail)
        except Exception as e:  # the run's files are written; the tracker's copy is a convenience
            log.warning("the report did not reach %s: %s: %s", type(logger).__name__, type(e).__name__, e)
