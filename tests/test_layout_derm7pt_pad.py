"""Derm7pt and PAD-UFES-20: each reader on its synthetic copy, and train.py (fast_dev_run) on each."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST

from skinlight.data.layouts import derm7pt, pad_ufes20
from skinlight.data.sources import read_source
from skinlight.errors import DataError
from skinlight.synthetic.cli import main
from skinlight.synthetic.derm7pt import generate_derm7pt
from skinlight.synthetic.pad_ufes20 import generate_pad_ufes20
from skinlight.train import run

SIZE = (48, 36)
CONTRACT = ["image_id", "lesion_id", "patient_id", "diagnosis", "age", "sex", "site", "path"]


@pytest.fixture(scope="module")
def derm_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("derm7pt") / "release_v0"
    generate_derm7pt(root, num_lesions=40, seed=0, image_size=SIZE)
    return root


@pytest.fixture(scope="module")
def pad_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pad") / "pad_ufes20"
    generate_pad_ufes20(root, num_lesions=60, seed=0, image_size=SIZE)
    return root


def index_splits(root: Path) -> pd.Series:
    """Each case's split (by image id) as the index files say."""
    meta = pd.read_csv(root / "meta" / "meta.csv")
    split = pd.Series(index=meta.index, dtype=object)
    for which, name in derm7pt.INDEX_FILES.items():
        split[pd.read_csv(root / "meta" / name)["indexes"]] = which
    return split.set_axis("derm7pt_" + meta["case_num"].astype(str))


def test_derm7pt_reads_its_synthetic_copy(derm_root):
    meta = pd.read_csv(derm_root / "meta" / "meta.csv", dtype=str)
    table = derm7pt.read(derm_root)
    assert list(table.columns) == [*CONTRACT[:7], "split", "path"] and len(table) == len(meta)
    assert (table["image_id"] == "derm7pt_" + meta["case_num"]).all()
    assert (table["lesion_id"] == table["image_id"]).all()
    assert table["patient_id"].isna().all() and table["age"].isna().all()
    assert [p.name for p in table["path"]] == [Path(d).name for d in meta["derm"]]
    assert table.set_index("image_id")["split"].to_dict() == index_splits(derm_root).to_dict()
    harmonised = read_source("derm7pt", derm_root)
    assert set(harmonised["dx"]) == {"bcc", "bkl", "df", "mel", "nv", "vasc", "unknown"}  # no akiec, no scc
    common = dict(zip(harmonised["diagnosis"], harmonised["dx"]))
    assert common["melanoma (more than 1.5 mm)"] == "mel" and common["reed or spitz nevus"] == "nv"
    assert common["lentigo"] == "bkl" and common["melanosis"] == "unknown"
    sites = dict(zip(meta["location"], harmonised["localization"]))
    assert sites["head neck"] == "head/neck" and sites["lower limbs"] == "lower extremity" and sites["back"] == "torso"


def test_pad_ufes20_reads_its_synthetic_copy(pad_root):
    meta = pd.read_csv(pad_root / "metadata.csv", dtype=str)
    table = pad_ufes20.read(pad_root)
    assert list(table.columns) == CONTRACT and len(table) == len(meta)
    assert (table["image_id"] + ".png" == meta["img_id"]).all()
    assert (table["patient_id"] == meta["patient_id"]).all() and (table["lesion_id"] == meta["lesion_id"]).all()
    assert {p.parent.name for p in table["path"]} == {"imgs_part_1", "imgs_part_2", "imgs_part_3"}
    assert table.groupby("patient_id")["lesion_id"].nunique().max() >= 2  # several lesions of a patient
    assert table.groupby("lesion_id").size().max() >= 2  # several images of a lesion
    harmonised = read_source("pad_ufes20", pad_root)
    assert dict(zip(meta["diagnostic"], harmonised["dx"])) == {
        "ACK": "akiec",
        "BCC": "bcc",
        "MEL": "mel",
        "NEV": "nv",
        "SCC": "scc",
        "SEK": "bkl",
    }
    assert set(harmonised["sex"]) == {"male", "female", "unknown"}  # MALE, FEMALE, blank
    assert harmonised["group_id"].str.startswith("pad_ufes20:patient:").all()


def test_generators_refuse_a_folder_in_use(derm_root, pad_root):
    with pytest.raises(DataError, match="already holds Derm7pt"):
        generate_derm7pt(derm_root, num_lesions=40, image_size=SIZE)
    with pytest.raises(DataError, match="already holds PAD-UFES-20"):
        generate_pad_ufes20(pad_root, num_lesions=60, image_size=SIZE)


def test_generators_are_deterministic(tmp_path):
    first = generate_pad_ufes20(tmp_path / "a", num_lesions=30, seed=3, image_size=SIZE)
    again = generate_pad_ufes20(tmp_path / "b", num_lesions=30, seed=3, image_size=SIZE)
    pd.testing.assert_frame_equal(first, again)
    name = first["img_id"].iloc[0]
    assert next((tmp_path / "a").rglob(name)).read_bytes() == next((tmp_path / "b").rglob(name)).read_bytes()


RECIPES = {
    "derm7pt, 7 classes, unknown dropped": ("derm7pt", ["data.drop=[unknown]"]),
    "pad_ufes20, 7 classes, scc merged": ("pad_ufes20", ["data.merge={scc: akiec}"]),
    "pad_ufes20, its six classes": ("pad_ufes20", ["data.classes=[akiec,bcc,bkl,mel,nv,scc]"]),
}


@pytest.mark.parametrize("recipe", RECIPES)
def test_train_fast_dev_run(recipe, compose_cfg, derm_root, pad_root):
    source, overrides = RECIPES[recipe]
    root = derm_root if source == "derm7pt" else pad_root
    fast = [o for o in FAST if not o.startswith("data=")]
    cfg = compose_cfg([f"data={source}", *fast, *overrides, "trainer.fast_dev_run=true"], root)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0
    split = pd.read_csv(Path(cfg.hydra.runtime.output_dir) / "split.csv").set_index("image_id")
    assert len(split) == len(read_source(source, root))  # every image, a dropped class's as "unused"
    if source == "derm7pt":
        used = split[split["split"] != "unused"]["split"]
        assert used.to_dict() == index_splits(root)[used.index].to_dict()
        assert set(split.loc[split["split"] == "unused", "label"]) == {"unknown"}
    else:
        assert (split.groupby("patient_id")["split"].nunique() == 1).all()


@pytest.mark.parametrize("layout", ["derm7pt", "pad_ufes20"])
def test_skinlight_synthetic_writes_the_layout(layout, tmp_path, capsys):
    main(
        ["--layout", layout, "--out", str(tmp_path / layout), "--num-lesions", "20", "--width", "48", "--height", "36"]
    )
    assert str(tmp_path / layout) in capsys.readouterr().out
    assert len(read_source(layout, tmp_path / layout)) > 20
