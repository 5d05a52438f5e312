import pytest
import torch

from skinlight.metrics.classification import classification_metrics


def test_metrics_on_known_inputs():
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    labels = torch.tensor([0, 1, 2, 1])
    metrics = classification_metrics(["a", "b", "c"], "test/")
    metrics.update(probs, labels)
    m = {k: float(v) for k, v in metrics.compute().items()}
    assert m["test/acc"] == pytest.approx(0.75)
    assert m["test/balanced_acc"] == pytest.approx((1 + 0.5 + 1) / 3)  # mean per-class recall
    assert m["test/recall_b"] == pytest.approx(0.5)
    assert m["test/precision_a"] == pytest.approx(0.5)
    assert m["test/specificity_a"] == pytest.approx(2 / 3)
    assert m["test/f1_a"] == pytest.approx(2 / 3)
    assert m["test/top2_acc"] == pytest.approx(1.0)
    assert m["test/auroc_macro"] == pytest.approx(1.0)
    # ECE: confidences 0.8 (3 right) and 0.6 (wrong): 3/4 * 0.2 + 1/4 * 0.6
    assert m["test/ece"] == pytest.approx(0.3)


def test_always_majority_scores_high_accuracy_but_low_balanced_accuracy():
    labels = torch.tensor([5] * 67 + [4] * 11 + [2] * 11 + [1] * 5 + [0] * 3 + [6] * 2 + [3] * 1)
    probs = torch.nn.functional.one_hot(torch.full_like(labels, 5), 7).float()
    metrics = classification_metrics(list("0123456"), "test/")
    metrics.update(probs, labels)
    m = metrics.compute()
    assert float(m["test/acc"]) == pytest.approx(0.67)
    assert float(m["test/balanced_acc"]) == pytest.approx(1 / 7)


def test_balanced_accuracy_skips_a_class_the_targets_lack_as_the_isic_scorer():
    # class c has no image but is predicted once: the ISIC scorer (and sklearn) average over a and b only,
    # torchmetrics' macro recall would count c as 0, and so does recall_macro
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1]])
    labels = torch.tensor([0, 1, 1, 0])
    metrics = classification_metrics(["a", "b", "c"], "test/")
    metrics.update(probs, labels)
    m = {k: float(v) for k, v in metrics.compute().items()}
    assert m["test/balanced_acc"] == pytest.approx((1 + 0.5) / 2)
    assert m["test/recall_macro"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_two_classes_add_sensitivity_specificity_auroc_of_the_second_class():
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.8, 0.2]])
    labels = torch.tensor([0, 1, 1, 1, 0, 0])  # malignant: 2 of 3 found; benign: 2 of 3 kept
    metrics = classification_metrics(["benign", "malignant"], "test/")
    metrics.update(probs, labels)
    m = {k: float(v) for k, v in metrics.compute().items()}
    assert m["test/sensitivity"] == pytest.approx(2 / 3)
    assert m["test/specificity"] == pytest.approx(2 / 3)
    # malignant scores 0.7, 0.4, 0.8 vs benign 0.1, 0.55, 0.2: 8 of 9 pairs ordered right
    assert m["test/auroc"] == pytest.approx(8 / 9)
    assert "test/top2_acc" not in m
    assert "test/sensitivity" in metrics.keys()
    assert "test/sensitivity" not in classification_metrics(["a", "b", "c"], "test/").keys()


def test_one_vs_rest_rates_threshold_each_class_above_half_as_the_isic_scorer():
    """ovr_sensitivity/specificity_<cls>: P(cls) > 0.5 against "is cls", not the argmax; 1.0 without positives
    (sensitivity) or negatives (specificity), the official scorer's freebie."""
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.5, 0.3, 0.2], [0.4, 0.55, 0.05], [0.45, 0.35, 0.2]])
    labels = torch.tensor([0, 0, 1, 1])  # no c: its sensitivity is the freebie
    metrics = classification_metrics(["a", "b", "c"], "test/")
    metrics.update(probs, labels)
    m = {k: float(v) for k, v in metrics.compute().items()}
    assert m["test/ovr_sensitivity_a"] == 0.5  # 0.5 is not above 0.5
    assert m["test/ovr_sensitivity_b"] == 0.5  # 0.55 found, 0.35 missed
    assert m["test/ovr_sensitivity_c"] == 1.0
    assert (m["test/ovr_specificity_a"], m["test/ovr_specificity_b"], m["test/ovr_specificity_c"]) == (1.0, 1.0, 1.0)
    metrics = classification_metrics(["a", "b", "c"], "test/")
    metrics.update(probs[:2], labels[:2])  # only a: no negatives of a
    assert float(metrics.compute()["test/ovr_specificity_a"]) == 1.0
    assert not [k for k in classification_metrics(["benign", "malignant"], "test/").keys() if "ovr_" in k]
