"""Calibration: the reliability diagram of top-1 confidence (the ECE of metrics.json, drawn)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ECE_BINS = 15  # as skinlight.metrics' ece


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS):
    """Per equal-width confidence bin: (count, mean confidence, accuracy), and the ECE (L1) they give."""
    confidence, correct = probs.max(1), probs.argmax(1) == labels
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)  # bins (k/n, (k+1)/n]
    count = np.bincount(index, minlength=n_bins)
    mean_conf = np.bincount(index, confidence, n_bins) / np.maximum(count, 1)
    accuracy = np.bincount(index, correct, n_bins) / np.maximum(count, 1)
    ece = float((count * np.abs(accuracy - mean_conf)).sum() / max(len(labels), 1))
    return count, mean_conf, accuracy, ece


def plot_reliability(probs: np.ndarray, labels: np.ndarray, path: Path, n_bins: int = ECE_BINS) -> float:
    """Accuracy against confidence per bin (bar width: the bin, shade: its share of images); return the ECE."""
    count, mean_conf, accuracy, ece = reliability_bins(probs, labels, n_bins)
    edges = np.linspace(0, 1, n_bins + 1)
    used = count > 0
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.bar(
        edges[:-1][used],
        accuracy[used],
        width=1 / n_bins,
        align="edge",
        edgecolor="black",
        color=plt.cm.Blues(0.3 + 0.7 * count[used] / count.max()),
        label="accuracy",
    )
    ax.plot(mean_conf[used], accuracy[used], "o", color="tab:red", ms=4, label="mean confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (top-1 probability)",
        ylabel="accuracy",
        title=f"reliability, ECE {ece:.3f} ({n_bins} bins, {len(labels)} images)",
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return ece
