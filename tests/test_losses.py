import pytest
import torch
import torch.nn.functional as F

from skinlight.errors import ConfigError
from skinlight.losses.classification import CrossEntropy, FocalLoss, balanced_class_weights

torch.manual_seed(0)
LOGITS, TARGET = torch.randn(64, 7), torch.randint(0, 7, (64,))


def test_focal_with_gamma_zero_is_cross_entropy():
    assert torch.allclose(FocalLoss(gamma=0.0)(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))


def test_focal_down_weights_easy_examples():
    easy = torch.tensor([[5.0, 0.0]]), torch.tensor([0])
    hard = torch.tensor([[0.0, 0.5]]), torch.tensor([0])
    ratio_easy = FocalLoss(gamma=2.0)(*easy) / F.cross_entropy(*easy)
    ratio_hard = FocalLoss(gamma=2.0)(*hard) / F.cross_entropy(*hard)
    assert ratio_easy < 0.01 < ratio_hard
    p = torch.softmax(easy[0], 1)[0, 0]
    assert torch.isclose(ratio_easy, (1 - p) ** 2)


def test_focal_alpha_per_class_and_scalar():
    alpha = torch.arange(1, 8, dtype=torch.float32)
    per_sample = F.cross_entropy(LOGITS, TARGET, reduction="none")
    assert torch.allclose(
        FocalLoss(gamma=0.0, alpha=alpha.tolist())(LOGITS, TARGET), (alpha[TARGET] * per_sample).mean()
    )
    assert torch.allclose(FocalLoss(gamma=0.0, alpha=0.25)(LOGITS, TARGET), 0.25 * per_sample.mean())


def test_balanced_class_weights_formula():
    counts = [327, 514, 1099, 115, 1113, 6705, 142]  # HAM10000
    w = balanced_class_weights(counts)
    n = sum(counts)
    assert torch.allclose(w, torch.tensor([n / (7 * c) for c in counts]))
    assert torch.isclose((w * torch.tensor(counts, dtype=torch.float32)).sum(), torch.tensor(float(n)))


def test_weighted_ce_uses_train_counts():
    counts = [10, 20, 30, 40, 50, 60, 70]
    loss = CrossEntropy(class_weights="balanced", class_counts=counts)
    expected = F.cross_entropy(LOGITS, TARGET, weight=balanced_class_weights(counts))
    assert torch.allclose(loss(LOGITS, TARGET), expected)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: CrossEntropy(class_weights="balanced", class_counts=[3, 0, 1]), "every class in the train split"),
        (lambda: CrossEntropy(class_weights=[1.0, 2.0], class_counts=[3, 4, 1]), "2 values for 3 classes"),
        (lambda: CrossEntropy(class_weights="inverse", class_counts=[3, 4, 1]), "loss.class_weights='inverse'"),
        (lambda: FocalLoss(gamma=-1), "loss.gamma"),
    ],
)
def test_bad_loss_settings(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
