"""Lesion-bootstrap intervals: the resampled statistics are torchmetrics' on the resampled images, and the
grouped interval covers a known truth at its nominal rate where an image-level one does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from skinlight.errors import ConfigError
from skinlight.metrics.bootstrap import Bootstrap, classification_samples, confusion_samples, mean_samples
from skinlight.metrics.classification import classification_metrics
from skinlight.train import run

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def _predictions(rng, n: int = 300, classes: int = 7, ties: bool = False):
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), labels] += 1.5
    probs = torch.tensor(logits).softmax(1).numpy()
    return (np.round(probs, 1) if ties else probs), labels  # rounded: many tied scores for the AUROC


def _torchmetrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    metrics = classification_metrics(CLASSES, "")
    metrics.update(torch.tensor(probs, dtype=torch.float64), torch.tensor(labels))
    return {k: float(v) for k, v in metrics.compute().items()}


@pytest.mark.parametrize("ties", [False, True])
def test_unit_weights_give_the_torchmetrics_values(ties):
    probs, labels = _predictions(np.random.default_rng(0), ties=ties)
    samples = classification_samples(np.ones((1, len(labels))), probs, labels, CLASSES)
    expected = _torchmetrics(probs, labels)
    assert list(samples) == ["balanced_acc", "acc", "f1_macro", "auroc_macro", "recall_mel"]
    for name, values in samples.items():
        assert values[0] == pytest.approx(expected[name], abs=1e-6), name


def test_each_resample_is_the_metric_of_its_drawn_lesions():
    rng = np.random.default_rng(1)
    probs, labels = _predictions(rng)
    lesions = rng.integers(0, 120, len(labels)).astype(str)
    bootstrap = Bootstrap(resamples=5, seed=3)
    weights = bootstrap.weights(lesions)
    samples = classification_samples(weights, probs, labels, CLASSES)
    for r in range(5):
        drawn = np.repeat(np.arange(len(labels)), weights[r].astype(int))  # every image of each drawn lesion
        expected = _torchmetrics(probs[drawn], labels[drawn])
        assert samples["balanced_acc"][r] == pytest.approx(expected["balanced_acc"], abs=1e-6)
        assert samples["auroc_macro"][r] == pytest.approx(expected["auroc_macro"], abs=1e-6)
        # a lesion is drawn whole: its images share one count
        counts = {lesion: set(weights[r][lesions == lesion]) for lesion in set(lesions)}
        assert all(len(c) == 1 for c in counts.values())
    assert weights.sum(1).mean() == pytest.approx(len(labels), rel=0.2)  # as many lesions as there are, drawn


def test_weighted_means_and_a_fixed_seed():
    scores = {"dice": np.array([0.2, 0.4, 0.9, 1.0])}
    weights = np.array([[1, 1, 1, 1], [2, 0, 0, 2], [0, 0, 0, 0]], float)
    means = mean_samples(weights, scores)["dice"]
    assert means[:2] == pytest.approx([0.625, 0.6]) and np.isnan(means[2])
    a, b = Bootstrap(50, seed=7), Bootstrap(50, seed=7)
    assert (a.weights(list("aabbc")) == b.weights(list("aabbc"))).all()
    assert Bootstrap(10).interval(np.array([np.nan, np.nan])) != Bootstrap(10).interval(np.array([0.5]))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"resamples": -1}, "intervals.resamples=-1: give a whole number"),
        ({"resamples": "many"}, "intervals.resamples=many"),
        ({"level": 1.5}, "intervals.level=1.5: give a coverage"),
        ({"level": "x"}, "intervals.level=x"),
        ({"seed": 0.5}, "intervals.seed=0.5"),
        ({"resample": 10}, "intervals.resample: unknown key"),
    ],
)
def test_bad_settings_are_one_config_error(config, message):
    with pytest.raises(ConfigError, match=message):
        Bootstrap.from_config(config)


def test_a_bad_setting_stops_a_run_before_training(make_cfg):
    cfg = make_cfg("intervals.level=2")
    with pytest.raises(ConfigError, match="intervals.level=2"):
        run(cfg, cfg.hydra.runtime.output_dir)
    assert not (Path(cfg.hydra.runtime.output_dir) / "checkpoints").exists()


def _clustered_draw(rng, recall=(0.5, 0.7, 0.85), lesions: int = 60):
    """Lesions of 1-6 images each; a lesion is classified right or wrong as a whole (with probability
    recall[c] for its class c), so the images of one lesion are strongly dependent."""
    labels, correct, groups = [], [], []
    for c, p in enumerate(recall):
        for lesion in range(lesions):
            n = rng.integers(1, 7)
            labels += [c] * n
            correct += [rng.random() < p] * n
            groups += [f"{c}_{lesion}"] * n
    labels = np.array(labels)
    return labels, np.where(correct, labels, (labels + 1) % 3), np.array(groups)


def test_grouped_interval_covers_the_true_balanced_accuracy_and_an_image_level_one_does_not():
    recall, draws = (0.5, 0.7, 0.85), 200
    truth = float(np.mean(recall))  # the population balanced accuracy
    covered, width = {"lesion": 0, "image": 0}, {"lesion": [], "image": []}
    for d in range(draws):
        labels, preds, lesions = _clustered_draw(np.random.default_rng(1000 + d), recall)
        for kind, groups in (("lesion", lesions), ("image", np.arange(len(labels)))):
            bootstrap = Bootstrap(resamples=300, seed=d)
            values = confusion_samples(bootstrap.weights(groups), labels, preds, ["a", "b", "c"])["balanced_acc"]
            low, high = bootstrap.interval(values)
            covered[kind] += low <= truth <= high
            width[kind].append(high - low)
    coverage = {kind: n / draws for kind, n in covered.items()}
    mean_width = {kind: float(np.mean(w)) for kind, w in width.items()}
    print(
        f"\n95 % intervals of balanced accuracy over {draws} draws (truth {truth:.4f}, 3.5 images per lesion): "
        f"lesion bootstrap covers {coverage['lesion']:.3f} (mean width {mean_width['lesion']:.4f}), "
        f"image bootstrap covers {coverage['image']:.3f} (mean width {mean_width['image']:.4f})"
    )
    assert 0.90 <= coverage["lesion"] <= 0.99
    assert coverage["image"] < coverage["lesion"] - 0.1 and mean_width["image"] < 0.8 * mean_width["lesion"]
