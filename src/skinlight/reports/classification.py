"""A classifier's tested outputs: predictions.csv and report/ (confusion matrix, ROC curves, reliability diagram,
per-class table, subgroups)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_curve  # noqa: E402

from skinlight.metrics.bootstrap import Bootstrap  # noqa: E402
from skinlight.reports.calibration import plot_reliability  # noqa: E402
from skinlight.reports.subgroups import write_subgroup_report  # noqa: E402
from skinlight.rundir import RunDir  # noqa: E402

PER_CLASS_METRICS = ("precision", "recall", "f1", "specificity", "auroc")


def per_class_table(metrics: dict[str, float], labels: np.ndarray, class_names, prefix: str = "test/") -> pd.DataFrame:
    """One row per class: support and the per-class metrics already computed for metrics.json."""
    support = np.bincount(labels, minlength=len(class_names))
    rows = [
        {
            "class": c,
            "support": int(support[i]),
            **{m: metrics.get(f"{prefix}{m}_{c}", float("nan")) for m in PER_CLASS_METRICS},
        }
        for i, c in enumerate(class_names)
    ]
    return pd.DataFrame(rows)


def predictions_table(rows: pd.DataFrame, probs: np.ndarray, labels: np.ndarray, class_names) -> pd.DataFrame:
    """predictions.csv: image_id, lesion_id (the image id where the data has none), path, label, one probability
    column per class, prediction."""
    classes = list(class_names)
    table = rows[["image_id", "lesion_id", "path"]].reset_index(drop=True).assign(label=[classes[i] for i in labels])
    table[classes] = probs
    table["prediction"] = [classes[i] for i in probs.argmax(1)]
    return table


def plot_confusion_matrix(probs: np.ndarray, labels: np.ndarray, class_names, path: Path) -> None:
    """Counts, coloured by row-normalised recall."""
    counts = confusion_matrix(labels, probs.argmax(1), labels=range(len(class_names)))
    recall = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(class_names) + 2, 1.1 * len(class_names) + 1.5))
    ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(counts.shape):
        ax.text(
            j,
            i,
            f"{counts[i, j]}\n{recall[i, j]:.2f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if recall[i, j] > 0.5 else "black",
        )
    ax.set(
        xticks=range(len(class_names)),
        yticks=range(len(class_names)),
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix (count, row recall)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc(
    probs: np.ndarray, labels: np.ndarray, class_names, metrics: dict[str, float], path: Path, prefix: str = "test/"
) -> None:
    """One-vs-rest ROC curve per class present in the labels, AUROC in the legend."""
    fig, ax = plt.subplots(figsize=(6, 5))
    for i, c in enumerate(class_names):
        if 0 < (labels == i).sum() < len(labels):
            fpr, tpr, _ = roc_curve(labels == i, probs[:, i])
            ax.plot(fpr, tpr, label=f"{c} (AUC {metrics.get(f'{prefix}auroc_{c}', float('nan')):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, one vs rest")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_classification_report(
    out_dir: Path, probs: np.ndarray, labels: np.ndarray, class_names, metrics: dict[str, float], prefix: str = "test/"
) -> None:
    """confusion_matrix.png, roc.png, reliability.png and per_class.csv under `out_dir` (metric keys start
    with `prefix`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    per_class_table(metrics, labels, class_names, prefix).to_csv(out_dir / "per_class.csv", index=False)
    plot_confusion_matrix(probs, labels, class_names, out_dir / "confusion_matrix.png")
    plot_roc(probs, labels, class_names, metrics, out_dir / "roc.png", prefix)
    plot_reliability(probs, labels, out_dir / "reliability.png")


def write_classification_outputs(
    run_dir: RunDir,
    rows: pd.DataFrame,
    probs: np.ndarray,
    labels: np.ndarray,
    class_names,
    metrics: dict[str, float],
    bootstrap: Bootstrap,
    prefix: str = "test/",
) -> None:
    """predictions.csv of the tested `rows` (image_id, lesion_id, path and metadata columns, in the order of
    `probs`) and report/: the figures and per-class table, and the subgroup table where the data has metadata."""
    predictions_table(rows, probs, labels, class_names).to_csv(run_dir.predictions, index=False)
    write_classification_report(run_dir.report, probs, labels, class_names, metrics, prefix)
    write_subgroup_report(run_dir.report, rows, probs, labels, class_names, bootstrap)
