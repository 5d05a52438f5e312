"""report/learning_curves.png: train and validation loss and metric per epoch, from the CSV logger's file."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

log = logging.getLogger(__name__)
METRICS = ("balanced_acc", "dice")  # the first one logged is plotted (classification, segmentation)


def epoch_table(metrics_csv: Path) -> pd.DataFrame:
    """One row per epoch: the train/* and val/* values Lightning's CSVLogger wrote (rows of one epoch merged)."""
    logged = pd.read_csv(metrics_csv)
    columns = [c for c in logged.columns if c.startswith(("train/", "val/"))]
    return logged.dropna(subset=["epoch"]).groupby("epoch")[columns].mean().dropna(how="all")  # not the test row


def plot_learning_curves(metrics_csv: Path, path: Path) -> bool:
    """Loss and metric (train and val) against the epoch; False (with a log line) when nothing was logged."""
    if not metrics_csv.is_file():
        log.info("no %s (logger without csv): no learning curves", metrics_csv)
        return False
    epochs = epoch_table(metrics_csv)
    metric = next((m for m in METRICS if f"val/{m}" in epochs), None)
    if epochs.empty or metric is None:
        log.info("%s holds no epoch values: no learning curves", metrics_csv)
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, name in zip(axes, ("loss", metric)):
        for stage in ("train", "val"):
            if f"{stage}/{name}" in epochs:
                values = epochs[f"{stage}/{name}"].dropna()
                ax.plot(values.index, values.to_numpy(), marker="o", ms=3, label=stage)
        ax.set(xlabel="epoch", ylabel=name, title=name)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
