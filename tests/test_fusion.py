"""Metadata fusion (meta=none|nguyen|gessert): every head, start-up checks, checkpoints, and its benefit."""

import json

import pytest
import torch

from skinlight.checkpoints import load_checkpoint
from skinlight.data.metadata import MetadataEncoder
from skinlight.errors import SkinlightError
from skinlight.models.classifier import Classifier
from skinlight.models.fusion import GessertFusion, MetadataDropout
from skinlight.train import run

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
HEADS = {"linear": "LinearHead", "le2020": "Le2020Head", "soft_attention": "SoftAttentionHead"}
METAS = {"none": (None, 0), "nguyen": ("NguyenFusion", 4096), "gessert": ("GessertFusion", 256)}


@pytest.mark.parametrize("meta", METAS)
@pytest.mark.parametrize("head", HEADS)
def test_every_head_combines_with_every_metadata_branch(head, meta):
    torch.manual_seed(0)
    fusion, branch_width = METAS[meta]
    model = Classifier(
        backbone={"name": "test_resnet"},
        head={"_target_": f"skinlight.models.heads.{HEADS[head]}"},
        loss={"_target_": "skinlight.losses.classification.CrossEntropy"},
        optimizer={"_target_": "torch.optim.Adam"},
        class_names=CLASSES,
        metadata=MetadataEncoder().state(),
        meta={"_target_": f"skinlight.models.fusion.{fusion}"} if fusion else None,
    ).eval()
    image, meta_a, meta_b = torch.randn(2, 3, 64, 64), torch.randn(2, 20), torch.randn(2, 20)
    logits = model(image, meta_a)
    assert logits.shape == (2, 7)
    assert model.classifier.in_features == model.head.out_features + branch_width
    # fused before the classifier: the metadata moves the logits exactly when there is a branch
    assert torch.allclose(model(image, meta_b), logits) == (fusion is None)


def test_gessert_branch_is_two_blocks_after_metadata_dropout():
    fusion = GessertFusion(image_features=10, meta_dim=20)
    kinds = [type(m).__name__ for m in fusion.branch]
    assert kinds == ["MetadataDropout"] + ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2
    assert fusion.branch[1].out_features == fusion.branch[5].out_features == 256 and fusion.branch[4].p == 0.4
    assert fusion(torch.randn(4, 10), torch.randn(4, 20)).shape == (4, 10 + 256)


def test_metadata_dropout_zeroes_single_values_in_training_only():
    torch.manual_seed(0)
    dropout = MetadataDropout(0.1)
    meta = torch.ones(2000, 20)
    dropped = dropout.train()(meta)
    assert set(dropped.unique().tolist()) == {0.0, 1.0}  # not rescaled: a dropped value reads as absent
    assert 0.08 < (dropped == 0).float().mean() < 0.12
    assert ((dropped == 0).sum(1) < 20).all()  # per value, not per row
    assert torch.equal(dropout.eval()(meta), meta)


@pytest.mark.parametrize("meta", ["gessert", "nguyen"])
def test_metadata_branch_without_metadata_stops_at_start_up(make_cfg, meta, tmp_path):
    with pytest.raises(
        SkinlightError,
        match=rf"meta={meta} needs patient metadata, but the data gives none: "
        r"set data.use_metadata=true .* or meta=none",
    ):
        run(make_cfg(f"meta={meta}", "data.use_metadata=false"), tmp_path)


def test_forward_without_metadata_names_the_missing_input():
    model = Classifier(
        backbone={"name": "test_resnet"},
        head={"_target_": "skinlight.models.heads.LinearHead"},
        loss={"_target_": "skinlight.losses.classification.CrossEntropy"},
        optimizer={"_target_": "torch.optim.Adam"},
        class_names=CLASSES,
        metadata=MetadataEncoder().state(),
        meta={"_target_": "skinlight.models.fusion.NguyenFusion"},
    )
    with pytest.raises(ValueError, match=r"fuses patient metadata \(meta=nguyen\): pass the metadata vector"):
        model(torch.randn(2, 3, 32, 32))


def test_trained_checkpoint_with_attention_tap_and_metadata_reloads(make_cfg):
    cfg = make_cfg(
        "head=soft_attention", "meta=gessert", "model.features_at=layer3", "trainer.max_epochs=1", "data.image_size=64"
    )
    run(cfg, cfg.hydra.runtime.output_dir)
    path = f"{cfg.hydra.runtime.output_dir}/checkpoints/best.ckpt"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["meta"]["_target_"] == "skinlight.models.fusion.GessertFusion"
    assert ckpt["hyper_parameters"]["features_at"] == "layer3"
    model = load_checkpoint(path).eval()
    state = model.state_dict()
    assert state.keys() == ckpt["state_dict"].keys()
    assert all(torch.equal(state[k], v) for k, v in ckpt["state_dict"].items())
    assert model(torch.randn(2, 3, 64, 64), torch.randn(2, model.hparams.metadata["dim"])).shape == (2, 7)


@pytest.mark.slow
def test_metadata_beats_image_only_on_synthetic_data(make_cfg, tmp_path):
    """Acceptance: seeded, same budget, meta=gessert beats meta=none in test/balanced_acc.

    The synthetic generator draws 15 % of mel as nv and 15 % of akiec as bkl while their metadata
    (age, sex, site) keep the true class, so the metadata carries information the images lack.
    """
    from skinlight.synthetic.ham10000 import generate_ham10000

    root = tmp_path / "ham"
    generate_ham10000(root, num_lesions=600, seed=0, image_size=(160, 120), workers=2)
    common = [
        "backbone=mobilenetv3_small",
        "backbone.pretrained=false",
        "data.image_size=64",
        "data.batch_size=32",
        "trainer.max_epochs=8",
        "loss=weighted_ce",
        "seed=0",
    ]
    scores = {}
    for meta in ("none", "gessert"):
        cfg = make_cfg(*common, f"meta={meta}", data_root=root)
        scores[meta] = run(cfg, tmp_path / meta)["test/balanced_acc"]
    print("test/balanced_acc " + json.dumps(scores))
    assert scores["gessert"] > scores["none"]
