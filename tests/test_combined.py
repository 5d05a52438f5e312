"""data=combined over a synthetic HAM10000 and a synthetic ISIC 2019 that holds copies of its images, and eval.py of a
HAM10000 checkpoint on the ISIC 2019 test split (the class mapping and the classes the model lacks reported)."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from conftest import FAST
from test_eval import _compose

from skinlight.data.combined import DUPLICATE
from skinlight.data.duplicates import close_pairs, perceptual_hashes
from skinlight.errors import ConfigError
from skinlight.evaluation.evaluate import evaluate
from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.synthetic.isic2019 import generate_isic2019
from skinlight.train import instantiate, run

CLASSIFIER = [o for o in FAST if not o.startswith("data=")]  # the data= of each test instead of FAST's
SMALL = ["data.num_workers=0", "data.image_size=32", "data.batch_size=16", "data.cache=false"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("combined")
    generate_ham10000(base / "ham", num_lesions=60, seed=3, image_size=(64, 48), workers=1)
    generate_isic2019(base / "isic2019", num_lesions=40, seed=1, image_size=(64, 48), ham10000_root=base / "ham")
    return base / "ham", base / "isic2019"


def _sources(roots) -> str:
    ham, isic = roots
    return f"data.sources=[{{source: ham10000, root: '{ham}'}}, {{source: isic2019, root: '{isic}'}}]"


def _datamodule(roots, tmp_path, *overrides):
    cfg = _compose(
        "train", [*CLASSIFIER, *SMALL, "data=combined", "data.target=ham10000", _sources(roots), *overrides], tmp_path
    )
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    return datamodule


def test_every_copy_is_found_kept_once_and_no_lesion_or_copy_straddles_two_splits(roots, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    datamodule = _datamodule(roots, tmp_path, "data.merge={scc: akiec}")
    table = datamodule.table
    copies = json.loads((roots[1] / "synthetic.json").read_text())["copies"]
    found = table[table["split"] == DUPLICATE]
    assert sorted(found["image_id"]) == sorted(c["image"] for c in copies)
    assert set(found["source"]) == {"isic2019"}
    assert set(found["duplicate_of"]) == {f"ham10000:{c['of']}" for c in copies}
    renamed = {c["image"] for c in copies if c["image"] != c["of"]}
    assert set(found.loc[found["found_by"] == "pixels", "image_id"]) == renamed and renamed
    message = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("duplicates:"))
    assert message.startswith(f"duplicates: {len(copies)} image(s) are copies and kept once")

    used = table[table["split"].isin(["train", "val", "test"])]
    assert set(used.loc[used["split"].isin(["val", "test"]), "source"]) == {"ham10000"}
    assert (used.groupby("group_id")["split"].nunique() == 1).all()
    assert (used.dropna(subset=["lesion_id"]).groupby("lesion_id")["split"].nunique() == 1).all()
    hashes = perceptual_hashes(used["path"])
    splits = used["split"].to_numpy()
    assert all(splits[i] == splits[j] for i, j in close_pairs(hashes, datamodule.max_distance))
    assert {"train", "val", "test"} <= set(used.loc[used["source"] == "ham10000", "split"])
    assert (used["source"] == "isic2019").any() and set(used.loc[used["source"] == "isic2019", "split"]) == {"train"}

    frame = datamodule.split_frame()
    assert list(frame.columns[-3:]) == ["source", "patient_id", "duplicate_of"] and len(frame) == len(table)


def test_combined_trains_and_writes_the_sources_in_split_csv(roots, tmp_path):
    cfg = _compose(
        "train",
        [
            *CLASSIFIER,
            *SMALL,
            "data=combined",
            "data.target=ham10000",
            _sources(roots),
            "data.merge={scc: akiec}",
            "trainer.fast_dev_run=true",
        ],
        tmp_path,
    )
    run(cfg, tmp_path)
    split = pd.read_csv(tmp_path / "split.csv")
    assert set(split["source"]) == {"ham10000", "isic2019"}
    assert set(split.loc[split["split"] == "test", "source"]) == {"ham10000"}
    assert (split["split"] == DUPLICATE).sum() == len(json.loads((roots[1] / "synthetic.json").read_text())["copies"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([], r"classes outside data.classes=.*scc: \d+ in isic2019.*data.merge"),
        (["data.target=isic2020"], r"data.target='isic2020' is not among data.sources \['ham10000', 'isic2019'\]"),
        (["data.sources=[]"], r"data.sources is empty"),
        (["data.sources=[{source: ham10000}]"], r"data.sources\[0\]=.*needs source and root"),
        (["data.sources=[{source: ham9, root: x}]"], r"data source 'ham9' is not one skinlight reads"),
    ],
)
def test_impossible_sources_stop_with_the_key(roots, tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _datamodule(roots, tmp_path, *overrides)


def test_a_ham10000_model_on_the_isic2019_test_split_reports_the_mapping_and_the_classes_it_lacks(
    roots, tmp_path, capsys
):
    ham, isic = roots
    run_dir = tmp_path / "train"
    cfg = _compose("train", [*FAST, *SMALL, "trainer.max_epochs=1"], run_dir, ham)
    run(cfg, run_dir)
    out = tmp_path / "eval"
    cfg = _compose("eval", ["data=isic2019", *SMALL, f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"], out, isic)
    evaluate(cfg, out)
    printed = capsys.readouterr().out
    mapping = pd.read_csv(out / "class_mapping.csv")
    scc = mapping[mapping["diagnosis"] == "SCC"]
    assert scc[["common", "class"]].values.tolist() == [["scc", "-"]]
    assert mapping.loc[mapping["diagnosis"] == "AK", "class"].tolist() == ["akiec"]
    outside = pd.read_csv(out / "outside_classes.csv")
    assert outside["class"].tolist() == ["scc"] and outside["images"].tolist() == scc["images"].tolist()
    shares = outside.drop(columns=["class", "images"])
    assert list(shares.columns) == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"] and shares.sum(1).round(
        6
    ).tolist() == [1.0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test/outside_images"] == scc["images"].sum()
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == mapping.loc[mapping["class"] != "-", "images"].sum()
    # ISIC 2019 holds HAM10000's images: those the model trained or validated on are left out, counted
    trained = pd.read_csv(run_dir / "split.csv").query("split in ['train', 'val']")["image_id"]
    assert metrics["test/seen_in_training"] > 0 and not set(predictions["image_id"]) & set(trained)
    assert "class mapping of the test images" in printed and "cannot predict" in printed


def test_a_model_of_one_source_is_evaluated_on_another_source_not_on_its_own_split(roots, tmp_path):
    from skinlight.synthetic.isic2020 import generate_isic2020

    other = tmp_path / "isic2020"
    generate_isic2020(other, num_lesions=60, seed=2, image_size=(64, 48))
    run_dir = tmp_path / "train"
    merge = "data.merge={scc: akiec}"
    cfg = _compose("train", [*CLASSIFIER, *SMALL, "data=isic2019", merge, "trainer.max_epochs=1"], run_dir, roots[1])
    run(cfg, run_dir)
    ckpt = f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"
    own = tmp_path / "own"
    evaluate(_compose("eval", [*SMALL[:1], ckpt], own), own)  # no data=: its own test split
    trained = json.loads((run_dir / "metrics.json").read_text())["test/balanced_acc"]
    assert json.loads((own / "metrics.json").read_text())["test/balanced_acc"] == pytest.approx(trained, abs=1e-6)
    out = tmp_path / "eval"
    evaluate(_compose("eval", ["data=isic2020", *SMALL, ckpt], out, other), out)
    mapping = pd.read_csv(out / "class_mapping.csv")
    assert set(mapping["source"]) == {"isic2020"} and "nevus" in set(mapping["diagnosis"])
    split = pd.read_csv(out / "predictions.csv")
    assert split["image_id"].isin(pd.read_csv(run_dir / "split.csv")["image_id"]).sum() == 0
