"""One training sends its report to W&B (offline), TensorBoard and MLflow (sqlite): each store, read back with the
tracker's own file format or client, holds the confusion matrix image, the per-class table, the metrics with their
intervals and the best checkpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from skinlight.errors import ConfigError
from skinlight.loggers import mlflow_logger, wandb_logger
from skinlight.rundir import RunDir
from skinlight.train import run

pytest.importorskip("wandb")
pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")


def wandb_records(path):
    """The protobuf records of an offline W&B run file (run-<id>.wandb: a 7-byte header, then LevelDB-log blocks
    of 32 KiB, each record a 7-byte header, crc32, length, type: full 1, first 2, middle 3, last 4)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, pending, records = path.read_bytes(), 7, b"", []
    while pos + 7 <= len(data):
        if (left := 32768 - pos % 32768) < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            break
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_table(records, name):
    """A table of an offline W&B run as its run_table artifact holds it (the copy under files/media has
    placeholders where the images are), and the artifact's files (local staging paths) by their path in it."""
    for record in records:
        if record.HasField("artifact") and record.artifact.type == "run_table":
            files = {entry.path: Path(entry.local_path) for entry in record.artifact.manifest.contents}
            tables = [path for key, path in files.items() if key.endswith(f"{name}.table.json")]
            if tables:
                return json.loads(tables[0].read_text()), files
    raise AssertionError(f"no run_table artifact holds {name}")


@pytest.fixture
def tracked_run(make_cfg, tmp_path, monkeypatch):
    for name in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):  # W&B's staging area: not $HOME
        monkeypatch.setenv(name, str(tmp_path / "wandb_home"))
    store = tmp_path / "mlruns"
    cfg = make_cfg(
        "logger=[wandb,tensorboard,mlflow]",
        "logger.wandb.offline=true",
        f"logger.mlflow.tracking_uri=sqlite:///{store}/mlflow.db",
        f"logger.mlflow.artifact_location={store}/artifacts",
        "trainer.max_epochs=1",
    )
    run_dir = RunDir(tmp_path / "run")
    metrics = run(cfg, run_dir.path)
    return run_dir, metrics, f"sqlite:///{store}/mlflow.db"


def test_wandb_tensorboard_and_mlflow_each_hold_the_report(tracked_run):
    run_dir, metrics, mlflow_uri = tracked_run
    confusion = Image.open(run_dir.report / "confusion_matrix.png").size
    per_class = pd.read_csv(run_dir.report / "per_class.csv")
    checkpoint = run_dir.checkpoint("best").read_bytes()
    low = metrics["test/balanced_acc_ci_low"]

    # W&B: the offline run's media files and its record file
    (wandb_run,) = (run_dir.path / "wandb").glob("offline-run-*")
    media = wandb_run / "files" / "media"
    (image,) = (media / "images" / "report").glob("confusion_matrix_*.png")
    assert Image.open(image).size == confusion
    records = wandb_records(next(wandb_run.glob("run-*.wandb")))
    table, _ = wandb_table(records, "per_class")
    assert [row[table["columns"].index("class")] for row in table["data"]] == list(per_class["class"])
    predictions, files = wandb_table(records, "predictions")
    tested = pd.read_csv(run_dir.predictions)
    assert len(predictions["data"]) == len(tested)
    thumbnails = [row[predictions["columns"].index("image")] for row in predictions["data"]]
    assert all(t["_type"] == "image-file" and max(Image.open(files[t["path"]]).size) <= 64 for t in thumbnails)
    correct = [row[predictions["columns"].index("correct")] for row in predictions["data"]]
    assert correct == list(tested["label"] == tested["prediction"])
    summary = {i.key: json.loads(i.value_json) for r in records if r.HasField("summary") for i in r.summary.update}
    assert summary["test/balanced_acc_ci_low"] == pytest.approx(low)
    (artifact,) = [r.artifact for r in records if r.HasField("artifact") and r.artifact.type == "model"]
    assert "best" in artifact.aliases
    (entry,) = artifact.manifest.contents
    assert entry.path == "best.ckpt" and entry.digest == base64.b64encode(hashlib.md5(checkpoint).digest()).decode()

    # TensorBoard: the event files, read by TensorBoard's own reader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir.path / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    (image,) = events.Images("report/confusion_matrix")
    assert (image.width, image.height) == confusion

    def text(tag):
        return events.Tensors(f"{tag}/text_summary")[-1].tensor_proto.string_val[0].decode()

    assert all(name in text("report/per_class") for name in per_class["class"])
    assert f"{low:.4g}"[:5] in text("report/metrics")
    assert hashlib.sha256(checkpoint).hexdigest() in text("checkpoint")

    # MLflow: the sqlite store and its artifacts, read with MLflow's client
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    (mlflow_run,) = client.search_runs([client.get_experiment_by_name("skinlight").experiment_id])
    assert mlflow_run.data.tags["run_dir"] == str(run_dir.path)
    assert mlflow_run.data.metrics["test/balanced_acc_ci_low"] == pytest.approx(low)
    run_id = mlflow_run.info.run_id
    report = {a.path: a for a in client.list_artifacts(run_id, "report")}
    assert {"report/confusion_matrix.png", "report/per_class.json", "report/predictions.json"} <= set(report)
    local = client.download_artifacts(run_id, "report/confusion_matrix.png", str(run_dir.path / "mlflow_back"))
    assert Image.open(local).size == confusion
    back = client.load_table(mlflow_run.info.experiment_id, "report/per_class.json", run_ids=[run_id])
    assert list(back["class"]) == list(per_class["class"])
    (model,) = client.search_logged_models([mlflow_run.info.experiment_id])
    assert (model.name, model.source_run_id, str(model.status)) == ("best", run_id, "READY")
    (saved,) = client.list_logged_model_artifacts(model.model_id)
    assert saved.path == "best.ckpt" and saved.file_size == len(checkpoint)


@pytest.mark.parametrize(("package", "build"), [("wandb", wandb_logger), ("mlflow", mlflow_logger)])
def test_a_tracker_whose_package_is_missing_is_named_with_its_install(package, build, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # what importlib sees where the package is not installed
    message = rf'^logger={package} needs the {package} package: pip install -e "\.\[loggers\]"$'
    with pytest.raises(ConfigError, match=message):
        build()
