"""Per-image segmentation scores on hand-made masks, and the segmentation losses of conf/loss."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torchmetrics.segmentation import MeanIoU

from skinlight.errors import ConfigError
from skinlight.losses.segmentation import MonaiLoss, SmpLoss, WeightedSum
from skinlight.metrics.segmentation import SegmentationScores

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def _masks():
    """Three 10x10 images, counts worked out by hand (tp, fp, fn, tn):
    0: truth rows 0-3, prediction rows 0-4      -> 40, 10, 0, 50: dice 80/90, IoU 40/50 = 0.8
    1: truth cols 0-4, prediction cols 3-7      -> 20, 30, 30, 20: dice 40/100, IoU 20/80 = 0.25
    2: truth empty, prediction empty            -> 0, 0, 0, 100: every score 1 (nothing to find, nothing found)
    """
    truth, pred = torch.zeros(3, 1, 10, 10), torch.zeros(3, 1, 10, 10)
    truth[0, 0, :4], pred[0, 0, :5] = 1, 0.9
    truth[1, 0, :, :5], pred[1, 0, :, 3:8] = 1, 0.7
    pred[2] = 0.3  # below the 0.5 threshold
    return pred, truth


def test_per_image_scores_on_hand_made_masks():
    metric = SegmentationScores()
    pred, truth = _masks()
    metric.update(pred[:2], truth[:2])  # two batches: per-image, not per-batch
    metric.update(pred[2:], truth[2:])
    scores = {k: v.tolist() for k, v in metric.per_image().items()}
    assert scores["dice"] == pytest.approx([80 / 90, 40 / 100, 1.0])
    assert scores["iou"] == pytest.approx([0.8, 0.25, 1.0])
    assert scores["precision"] == pytest.approx([40 / 50, 20 / 50, 1.0])
    assert scores["recall"] == pytest.approx([1.0, 20 / 50, 1.0])
    assert scores["pixel_acc"] == pytest.approx([0.9, 0.4, 1.0])
    # IoU = D / (2 - D) for every image, so IoU <= Dice
    assert scores["iou"] == pytest.approx([d / (2 - d) for d in scores["dice"]])
    # ISIC 2018: IoU below 0.65 counts 0
    assert scores["thresholded_jaccard"] == pytest.approx([0.8, 0.0, 1.0])
    means = metric.compute()
    assert means["thresholded_jaccard"].item() == pytest.approx(1.8 / 3)
    assert means["dice"].item() == pytest.approx((80 / 90 + 0.4 + 1) / 3)


def test_miou_with_background_on_two_hand_made_masks():
    """The IoU "averaged with the background class" (Elgohary et al.'s): per image the mean of the
    lesion's IoU and the background's, tn / (tn + fp + fn); the same as torchmetrics' MeanIoU over
    the two classes when both are present in each image."""
    pred, truth = _masks()
    metric = SegmentationScores()
    metric.update(pred[:2], truth[:2])
    per_image = metric.per_image()["miou_with_background"].tolist()
    # 0: lesion 40/50, background 50/60; 1: lesion 20/80, background 20/80
    assert per_image == pytest.approx([(0.8 + 50 / 60) / 2, 0.25])
    assert metric.compute()["miou_with_background"].item() == pytest.approx(((0.8 + 50 / 60) / 2 + 0.25) / 2)
    reference = MeanIoU(num_classes=2, include_background=True, input_format="index")
    reference.update((pred[:2, 0] >= 0.5).long(), truth[:2, 0].long())
    assert reference.compute().item() == pytest.approx(metric.compute()["miou_with_background"].item())
    # an image with nothing to find and nothing found: both IoUs 1
    metric.update(pred[2:], truth[2:])
    assert metric.per_image()["miou_with_background"][2].item() == 1.0


def _loss(name: str, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=unet", f"loss={name}", *overrides])
    return instantiate(cfg.loss)


@pytest.mark.parametrize(
    "name", ["dice", "jaccard", "bce", "bce_dice", "seg_focal", "lovasz", "tversky", "boundary", "dice_boundary"]
)
def test_segmentation_losses_prefer_the_right_mask(name):
    loss = _loss(name)
    _, truth = _masks()
    truth = truth[:2]
    good, bad = (truth * 2 - 1) * 6, (1 - truth * 2) * 6  # logits: confident right, confident wrong
    logits = torch.zeros_like(truth, requires_grad=True)
    value = loss(logits, truth)
    value.backward()
    assert loss(good, truth) < value < loss(bad, truth)
    assert logits.grad.abs().sum() > 0


def test_bce_dice_is_the_weighted_sum_of_its_terms():
    _, truth = _masks()
    logits = torch.randn_like(truth)
    both = _loss("bce_dice", "loss.weights.bce=0.5")
    expected = 0.5 * _loss("bce")(logits, truth) + _loss("dice")(logits, truth)
    assert both(logits, truth).item() == pytest.approx(expected.item())
    with pytest.raises(ConfigError, match="loss.weights has \\['lovasz'\\]"):
        WeightedSum({"bce": _loss("bce")}, {"lovasz": 1.0})


def test_tversky_weighs_a_missed_pixel_more_than_a_false_one():
    """alpha 0.3 (false positives) < beta 0.7 (false negatives): missing a lesion pixel costs more."""
    loss = _loss("tversky")
    truth = torch.zeros(1, 1, 4, 4)
    truth[..., :2, :] = 1  # 8 lesion pixels
    sure = (truth * 2 - 1) * 20
    missed, extra = sure.clone(), sure.clone()
    missed[..., 0, 0] = -20  # one lesion pixel missed
    extra[..., 3, 3] = 20  # one background pixel called lesion
    assert loss(missed, truth) > loss(extra, truth) > loss(sure, truth)
    assert _loss("tversky", "loss.alpha=0.5", "loss.beta=0.5")(missed, truth).item() == pytest.approx(
        _loss("dice")(missed, truth).item(), abs=1e-4
    )


def test_the_boundary_term_grows_with_the_distance_of_an_error():
    """HausdorffDTLoss: the same number of wrong pixels costs more far from the lesion than beside it."""
    loss = _loss("boundary")
    truth = torch.zeros(1, 1, 16, 16)
    truth[..., 6:10, 6:10] = 1
    near, far = (truth * 2 - 1) * 20, (truth * 2 - 1) * 20
    near[..., 10, 6:10] = 20  # a row of false pixels touching the lesion
    far[..., 15, 6:10] = 20  # the same row at the image's edge
    assert loss(far, truth) > loss(near, truth)


def test_an_unknown_library_loss_names_the_library_and_its_losses():
    with pytest.raises(ConfigError, match=r"loss.name='Nope' is not a monai.losses loss; choose one of \[.*'DiceLoss'"):
        MonaiLoss("Nope")
    with pytest.raises(ConfigError, match=r"is not a segmentation_models_pytorch.losses loss"):
        SmpLoss("Nope")
