"""mixup=mixup|cutmix|mixup_cutmix: soft-target cross-entropy, timm's Mixup on the training batch, metadata
mixed alike, and the combinations refused at start-up."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from timm.data import Mixup

from skinlight.errors import ConfigError
from skinlight.losses.classification import CrossEntropy
from skinlight.models.classifier import Classifier
from skinlight.models.mixing import Mixing
from skinlight.train import run

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
WEIGHTS = [3.0, 0.5, 1.0, 2.0, 0.25, 1.5, 4.0]


def batch(size: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 5, 4, 2][:size])
    return torch.randn(size, 7, generator=g), labels


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_soft_one_hot_targets_give_exactly_the_hard_loss(weights):
    logits, labels = batch()
    loss = CrossEntropy(class_weights=weights)
    hard = F.cross_entropy(logits, labels, weight=None if weights is None else torch.tensor(weights))
    assert torch.allclose(loss(logits, F.one_hot(labels, 7).float()), hard, atol=1e-6)
    assert torch.allclose(loss(logits, labels), hard)


def test_smoothed_soft_targets_without_weights_match_torch_label_smoothing():
    logits, labels = batch()
    smoothed = F.one_hot(labels, 7).float() * 0.9 + 0.1 / 7
    assert torch.allclose(CrossEntropy()(logits, smoothed), F.cross_entropy(logits, labels, label_smoothing=0.1))


def test_soft_targets_are_weighted_by_their_expected_class_weight():
    logits, labels = batch()
    target = 0.7 * F.one_hot(labels, 7).float() + 0.3 * F.one_hot(labels.flip(0), 7).float()
    w = torch.tensor(WEIGHTS)
    expected = -(target * w * logits.log_softmax(1)).sum() / (target * w).sum()
    assert torch.allclose(CrossEntropy(class_weights=WEIGHTS)(logits, target), expected)
    assert not torch.allclose(CrossEntropy()(logits, target), expected)


@pytest.mark.parametrize(("mixup_alpha", "cutmix_alpha"), [(0.4, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_mixing_is_timms_mixup_and_mixes_the_metadata_alike(mixup_alpha, cutmix_alpha):
    images, labels = torch.rand(6, 3, 16, 16), torch.tensor([0, 1, 2, 3, 4, 5])
    meta = torch.rand(6, 5)
    options = {"mixup_alpha": mixup_alpha, "cutmix_alpha": cutmix_alpha, "prob": 1.0, "switch_prob": 0.5}
    np.random.seed(3)
    mixed, mixed_meta, target = Mixing(num_classes=7, label_smoothing=0.0, **options)(images.clone(), meta, labels)
    np.random.seed(3)
    expected, expected_target = Mixup(**options, label_smoothing=0.0, num_classes=7)(images.clone(), labels)
    assert torch.equal(mixed, expected) and torch.allclose(target, expected_target)
    lam = target[0, 0]  # the share of image 0's own class (its partner, image 5, is of class 5)
    assert 0 < lam < 1 and not torch.equal(mixed, images)
    assert torch.allclose(mixed_meta, lam * meta + (1 - lam) * meta.flip(0))


def test_an_odd_batch_is_mixed_too():
    images, labels = torch.rand(5, 3, 16, 16), torch.tensor([0, 1, 2, 3, 4])
    np.random.seed(0)
    mixed, _, target = Mixing(num_classes=7, mixup_alpha=1.0)(images.clone(), None, labels)
    assert torch.allclose(mixed[2], images[2]) and target.shape == (5, 7)  # the middle image pairs with itself
    assert not torch.allclose(mixed[0], images[0]) and torch.allclose(target.sum(1), torch.ones(5))


def classifier(make_cfg, *overrides) -> Classifier:
    kwargs = OmegaConf.to_container(make_cfg(*overrides).model, resolve=True)
    Classifier.check_config(kwargs)
    kwargs.pop("_target_")
    return Classifier(**kwargs, class_names=CLASSES, class_counts=[10] * 7)


@pytest.mark.parametrize("loss", ["ce", "weighted_ce"])
def test_the_training_loss_is_the_soft_loss_on_timms_mixed_batch(make_cfg, loss):
    mixup = ["mixup=mixup_cutmix", f"loss={loss}", "loss.label_smoothing=0.1"]
    weights = ["loss.class_weights=[3,0.5,1,2,0.25,1.5,4]"] if loss == "weighted_ce" else []
    model = classifier(make_cfg, *mixup, *weights)
    model.eval()  # the same network function for both forwards (BatchNorm statistics kept)
    torch.manual_seed(0)
    torch.nn.init.normal_(model.classifier.weight, std=5.0)  # confident predictions: the losses differ clearly
    shade = torch.linspace(0.1, 0.9, 8)[:, None, None, None]  # images the network tells apart
    images, labels = (shade + 0.05 * torch.rand(8, 3, 32, 32)).clamp(0, 1), torch.tensor([0, 1, 2, 3, 4, 5, 6, 5])
    np.random.seed(1)
    loss_value = model.training_step({"image": images.clone(), "label": labels}, 0)
    np.random.seed(1)
    mixed, target = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=7)(images.clone(), labels)
    w = torch.tensor(WEIGHTS) if loss == "weighted_ce" else torch.ones(7)
    with torch.no_grad():
        log_p = model(mixed).log_softmax(1)
    expected = -(target * w * log_p).sum() / (target * w).sum()
    assert torch.allclose(loss_value, expected, atol=1e-5)
    with torch.no_grad():  # the loss saw the mixed images, not the originals
        on_originals = -(target * w * model(images).log_softmax(1)).sum() / (target * w).sum()
    assert not torch.allclose(loss_value, on_originals, atol=1e-3)
    if loss == "weighted_ce":  # class weights change the mixed loss
        assert not torch.allclose(expected, -(target * log_p).sum() / target.sum(), atol=1e-4)


def test_mixup_with_metadata_trains_end_to_end(make_cfg):
    cfg = make_cfg("mixup=mixup_cutmix", "loss=weighted_ce", "meta=nguyen", "meta.hidden=16", "trainer.max_epochs=1")
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0 and np.isfinite(metrics["test/loss"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["mixup=mixup", "loss=focal"], r"mixup \(model.mixup\) makes soft targets, which loss._target_=.*FocalLoss"),
        (["mixup=cutmix", "mixup.cutmix_alpha=0"], r"mixup.mixup_alpha and mixup.cutmix_alpha are both 0"),
        (["mixup=mixup", "mixup.prob=1.5"], r"mixup.prob=1.5 must be a probability in \[0, 1\]"),
    ],
)
def test_impossible_mixup_settings_are_one_clear_error(make_cfg, overrides, message):
    cfg = make_cfg(*overrides, "trainer.fast_dev_run=true")
    with pytest.raises(ConfigError, match=message):
        run(cfg, cfg.hydra.runtime.output_dir)
