"""The split protocols (honest, a paper's published one), the one-image-per-test-lesion option, preprocessing."""

import json
import logging

import albumentations as A
import numpy as np
import pandas as pd
import pytest
import torch
from test_splits import CLASSES, table

from skinlight.checkpoints import load_checkpoint
from skinlight.data.protocol import Protocol, one_image_per_test_lesion
from skinlight.data.splits import assign_splits
from skinlight.data.transforms import build_transform, preprocessing
from skinlight.errors import ConfigError
from skinlight.train import build_datamodule, run

FACTORS = {"a": 1, "b": 3, "c": 5}


def split(protocol: Protocol, df: pd.DataFrame | None = None) -> pd.DataFrame:
    df = table() if df is None else df
    return protocol.restore(assign_splits(protocol.regroup(df, CLASSES), CLASSES, seed=0))


def test_honest_protocol_is_the_lesion_split():
    pd.testing.assert_frame_equal(split(Protocol()), assign_splits(table(), CLASSES, seed=0))
    assert Protocol.from_config("honest", {"split_by": "image"}) == Protocol() and Protocol().leaks() == []


def test_split_by_image_puts_images_of_one_lesion_in_train_and_test():
    protocol = Protocol.from_config("published", {"split_by": "image"})
    out = split(protocol)
    assert out["lesion_id"].tolist() == table()["lesion_id"].tolist()  # the real ids are kept
    shared = out.groupby("lesion_id")["split"].nunique() > 1
    assert shared.sum() > 0 and len(protocol.leaks()) == 1


def test_duplicate_before_split_copies_each_image_and_the_copies_reach_test():
    df = table()
    out = split(Protocol.from_config("published", {"duplicate_before_split": FACTORS}), df)
    expected = df["label"].map(lambda label: FACTORS[CLASSES[label]]).groupby(df["label"]).sum()
    assert out.groupby("label").size().tolist() == expected.tolist()
    splits_per_image = out.groupby("image_id")["split"].nunique()
    assert (splits_per_image > 1).any()  # the leak: one image's copies in two splits
    assert set(out.columns) == set(assign_splits(df, CLASSES).columns)


def test_select_on_test_trains_on_the_validation_part():
    out = split(Protocol.from_config("published", {"select_on": "test"}))
    honest = assign_splits(table(), CLASSES, seed=0)
    assert "val" not in set(out["split"])
    assert (out["split"] == "train").sum() == honest["split"].isin(["train", "val"]).sum()


@pytest.mark.parametrize(
    "protocol, published, message",
    [
        ("leaky", None, "data.protocol='leaky': choose one of"),
        ("published", None, "this recipe has no published protocol"),
        ("published", {"split": "image"}, r"unknown key\(s\) \['split'\]"),
        ("published", {"split_by": "patient"}, "data.published.split_by='patient'"),
        ("published", {"select_on": "train"}, "data.published.select_on='train'"),
        ("published", {"duplicate_before_split": {"a": 0}}, "whole numbers >= 1"),
    ],
)
def test_bad_protocol_settings(protocol, published, message):
    with pytest.raises(ConfigError, match=message):
        Protocol.from_config(protocol, published)


def test_one_image_per_test_lesion():
    df = assign_splits(table(), CLASSES, seed=0)
    out = one_image_per_test_lesion(df, seed=0)
    test = out[out["split"] == "test"]
    assert test["lesion_id"].is_unique and set(test["lesion_id"]) == set(df.loc[df["split"] == "test", "lesion_id"])
    unused = out[out["split"] == "unused"]
    assert len(unused) == (df["split"] == "test").sum() - len(test) > 0
    assert set(unused["lesion_id"]) <= set(test["lesion_id"])
    assert out.loc[df["split"] != "test", "split"].equals(df.loc[df["split"] != "test", "split"])


def test_test_siblings_are_trained_on_in_le2020s_protocol():
    df = assign_splits(table(), CLASSES, seed=0)
    out = one_image_per_test_lesion(df, seed=0, siblings="train")
    unused = one_image_per_test_lesion(df, seed=0)["split"] == "unused"
    assert unused.any() and (out.loc[unused, "split"] == "train").all()
    assert Protocol.from_config("published", {"test_siblings": "train"}).leaks() == [
        "the untested images of each test lesion are trained on"
    ]


def test_published_run_warns_and_records_its_leaks(make_cfg, caplog):
    cfg = make_cfg(
        "data.protocol=published",
        "data.published={split_by:image,select_on:test}",
        "data.test_images=one_per_lesion",
        "trainer.fast_dev_run=true",
    )
    with caplog.at_level(logging.WARNING, logger="skinlight.train"):
        run(cfg, cfg.hydra.runtime.output_dir)
    assert "leaks: the split is by image" in caplog.text and "chosen on the test split" in caplog.text
    run_dir = cfg.hydra.runtime.output_dir
    info = json.loads(open(f"{run_dir}/run_info.json").read())["protocol"]
    assert info["name"] == "published" and len(info["leaks"]) == 2
    split_csv = pd.read_csv(f"{run_dir}/split.csv")
    assert {"train", "test", "unused"} == set(split_csv["split"])
    assert split_csv[split_csv["split"] == "test"]["lesion_id"].is_unique


def test_duplicate_before_split_replaces_the_sampler(make_cfg):
    cfg = make_cfg(
        "sampler=duplicate",
        "data.protocol=published",
        "+data.published.duplicate_before_split=${sampler.factors}",
    )
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    assert datamodule.train_sampler is None
    counts = datamodule.table.groupby("label").size()
    images = datamodule.read_table().groupby("label").size()
    factors = [cfg.sampler.factors[c] for c in datamodule.classes]
    assert counts.tolist() == (images * np.array(factors)).tolist()


def test_preprocessing_runs_on_every_split_and_is_recorded_for_inference(make_cfg):
    """A preprocessing step (here grey conversion) reaches val/test images and, through the checkpoint, predict."""
    cfg = make_cfg("preprocess.steps=[{_target_:albumentations.ToGray,p:1.0}]", "trainer.max_epochs=1")
    run(cfg, cfg.hydra.runtime.output_dir)
    datamodule = build_datamodule(cfg)
    datamodule.setup("test")
    image = datamodule.datasets["test"][0]["image"]
    assert torch.allclose(image[0], image[1]) and torch.allclose(image[1], image[2])
    model = load_checkpoint(f"{cfg.hydra.runtime.output_dir}/checkpoints/last.ckpt")
    steps = preprocessing(model.hparams.preprocess)
    assert [type(s) for s in steps] == [A.ToGray]
    rgb = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    out = build_transform(32, preprocess=steps)(image=rgb)["image"]
    assert torch.allclose(out[0], out[2]) and not torch.allclose(build_transform(32)(image=rgb)["image"][0], out[0])
