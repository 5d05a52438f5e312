"""The ISIC 2019, SIIM-ISIC 2020 and BCN20000 readers on their synthetic copies: the contract's table, the common
classes, a fast_dev_run of train.py on each, the HAM10000 copies inside ISIC 2019 and the writers' CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST

from skinlight.data.duplicates import perceptual_hashes
from skinlight.data.layouts import bcn20000, isic2019, isic2020
from skinlight.data.layouts.images import load_rgb
from skinlight.data.sources import read_source
from skinlight.errors import ConfigError, DataError
from skinlight.synthetic.bcn20000 import generate_bcn20000
from skinlight.synthetic.cli import main as synthetic_main
from skinlight.synthetic.ham10000 import generate_ham10000
from skinlight.synthetic.isic2019 import generate_isic2019
from skinlight.synthetic.isic2020 import generate_isic2020
from skinlight.train import run

SIZE = (48, 36)
COLUMNS = ["image_id", "lesion_id", "patient_id", "diagnosis", "age", "sex", "site", "path"]
TINY = "--num-lesions 14 --width 32 --height 24".split()
LESIONS = 75  # at least 3 lesions in every class: a stratified train/val/test split


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("isic")
    generate_ham10000(base / "ham", num_lesions=20, seed=1, image_size=SIZE, workers=1)
    made = {
        "isic2019": generate_isic2019(base / "isic2019", LESIONS, seed=0, image_size=SIZE, ham10000_root=base / "ham"),
        "isic2020": generate_isic2020(base / "isic2020", LESIONS, seed=0, image_size=SIZE),
        "bcn20000": generate_bcn20000(base / "bcn20000", LESIONS, seed=0, image_size=SIZE),
    }
    return {name: (base / name, rows) for name, rows in made.items()} | {"ham": (base / "ham", None)}


def test_isic2019_reads_its_copy_with_ham10000_inside(roots):
    root, rows = roots["isic2019"]
    table = isic2019.read(root)
    assert list(table.columns) == COLUMNS and len(table) == len(rows)
    assert table["image_id"].tolist() == rows["image"].tolist() and table["patient_id"].isna().all()
    assert table["image_id"].str.endswith("_downsampled").any() and table["lesion_id"].isna().any()
    harmonised = read_source("isic2019", root).set_index("image_id")
    assert set(harmonised.loc[table.image_id[table.diagnosis == "AK"], "dx"]) == {"akiec"}
    assert set(harmonised.loc[table.image_id[table.diagnosis == "SCC"], "dx"]) == {"scc"}
    assert {"torso", "head/neck"} <= set(harmonised["localization"])
    shared = rows[rows["copy_of"].notna() & (rows["image"] == rows["copy_of"])]
    assert harmonised.loc[shared["image"], "lesion_id"].str.startswith("HAM_").all()
    assert harmonised.loc[shared["image"], "group_id"].str.startswith("isic:lesion:HAM_").all()


def test_the_ham10000_copies_are_recorded_re_encoded_ones_differ_in_bytes_not_in_pixels(roots):
    root, rows = roots["isic2019"]
    ham = pd.read_csv(roots["ham"][0] / "HAM10000_metadata.csv")
    copies = json.loads((root / "synthetic.json").read_text())["copies"]
    truth = pd.read_csv(root / isic2019.GROUND_TRUTH).set_index("image")
    meta = pd.read_csv(root / isic2019.METADATA).set_index("image")
    renamed = [c for c in copies if c["image"] != c["of"]]
    assert len(renamed) == 3 and meta.loc[[c["image"] for c in renamed], "lesion_id"].isna().all()
    assert len(copies) - len(renamed) == round(0.5 * len(ham))
    assert {c["how"] for c in copies} == {"identical", "re-encoded"}
    ham_paths = {p.stem: p for p in roots["ham"][0].glob("*/*.jpg")}
    dx = ham.set_index("image_id")["dx"].map(lambda c: "AK" if c == "akiec" else c.upper())
    for copy in copies:
        mine, theirs = root / isic2019.IMAGE_DIR / f"{copy['image']}.jpg", ham_paths[copy["of"]]
        assert (mine.read_bytes() == theirs.read_bytes()) == (copy["how"] == "identical")
        difference = np.abs(load_rgb(mine).astype(int) - load_rgb(theirs).astype(int)).mean()
        hashes = perceptual_hashes([mine, theirs])
        assert difference < 8 and bin(int(hashes[0] ^ hashes[1])).count("1") <= 2, copy  # data.max_distance
        assert truth.loc[copy["image"], dx[copy["of"]]] == 1.0
    if len(copies) - len(renamed) < len(ham):
        assert not set(c["of"] for c in renamed) & set(c["of"] for c in copies if c["image"] == c["of"])


def test_isic2020_reads_patients_diagnoses_and_the_isic_sites_folder(roots, tmp_path):
    root, rows = roots["isic2020"]
    table = isic2020.read(root)
    assert list(table.columns) == COLUMNS and len(table) == len(rows) and table["lesion_id"].isna().all()
    assert table["patient_id"].str.match(r"IP_\d{7}$").all() and table["patient_id"].nunique() < len(table)
    harmonised = read_source("isic2020", root).set_index("diagnosis")
    for word, common in [("lentigo NOS", "bkl"), ("cafe-au-lait macule", "unknown"), ("melanoma", "mel")]:
        assert set(harmonised.loc[[word], "dx"]) == {common}
    assert harmonised["group_id"].str.startswith("isic2020:patient:IP_").all()
    moved = tmp_path / "isic2020"
    shutil.copytree(root, moved)
    (moved / "ISIC_2020_Training_JPEG").mkdir()
    shutil.move(moved / "jpeg" / "train", moved / "ISIC_2020_Training_JPEG" / "train")
    (moved / "train.csv").rename(moved / "ISIC_2020_Training_GroundTruth.csv")
    assert isic2020.read(moved)["path"].map(lambda p: "ISIC_2020_Training_JPEG" in str(p)).all()


def test_bcn20000_reads_both_exports(roots, tmp_path):
    root, rows = roots["bcn20000"]
    table = bcn20000.read(root)
    assert list(table.columns) == COLUMNS and len(table) == len(rows) and table["lesion_id"].str.match(r"IL_").all()
    harmonised = read_source("bcn20000", root)
    vascular = rows["diagnosis_3"].isna()
    assert vascular.any() and set(harmonised["dx"][vascular.to_numpy()]) == {"vasc"}  # from diagnosis_2
    older = generate_bcn20000(tmp_path / "older", 20, seed=0, image_size=SIZE, export="2023")
    assert (tmp_path / "older" / "bcn20000_metadata_2023-08-28.csv").is_file()
    common = read_source("bcn20000", tmp_path / "older").set_index("image_id")["dx"]
    assert common.loc[older["isic_id"][older["diagnosis"] == "squamous cell carcinoma"]].eq("scc").all()
    assert common.loc[older["isic_id"][older["diagnosis"] == "melanoma metastasis"]].eq("mel").all()
    shutil.copy(tmp_path / "older" / "bcn20000_metadata_2023-08-28.csv", tmp_path / "older" / "bcn20000_metadata_x.csv")
    with pytest.raises(DataError, match=r"2 BCN20000 metadata CSVs in .*bcn20000_metadata_2023-08-28.csv, "):
        bcn20000.read(tmp_path / "older")


def test_bcn20000_without_a_diagnosis_column_stops(roots, tmp_path):
    root = tmp_path / "bcn"
    shutil.copytree(roots["bcn20000"][0], root)
    csv = root / "metadata.csv"
    pd.read_csv(csv).drop(columns=["diagnosis_3"]).to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"metadata.csv: no diagnosis column: expected diagnosis_3 .* or diagnosis"):
        bcn20000.read(root)


def source_cfg(compose_cfg, source: str, root: Path, *overrides: str):
    """conftest's FAST on data=<source> at `root`, one fast_dev_run batch."""
    fast = [o for o in FAST if not o.startswith("data=")]
    return compose_cfg([f"data={source}", *fast, *overrides, "trainer.fast_dev_run=true"], root)


@pytest.mark.parametrize(
    "source, overrides",
    [
        ("isic2019", ["data.merge={scc: akiec}"]),
        ("isic2020", ["data.classes=[bkl,mel,nv]", "data.drop=[unknown]"]),
        ("bcn20000", ["data.drop=[scc]"]),
    ],
)
def test_train_fast_dev_run_on_each_copy(roots, compose_cfg, source, overrides):
    root, _ = roots[source]
    cfg = source_cfg(compose_cfg, source, root, *overrides)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0
    split = pd.read_csv(Path(cfg.hydra.runtime.output_dir) / "split.csv")
    assert len(split) == len(read_source(source, root)) and set(split["source"]) == {source}


def test_a_seven_class_recipe_on_isic2019_names_scc_and_both_options(roots, compose_cfg):
    cfg = source_cfg(compose_cfg, "isic2019", roots["isic2019"][0])
    with pytest.raises(ConfigError, match=r"outside data.classes=.*\(scc: \d+ in isic2019\).*data.merge.*data.drop"):
        run(cfg, cfg.hydra.runtime.output_dir)


@pytest.mark.parametrize(
    "layout, args, csv",
    [
        ("isic2019", ["--ham10000-root", "{ham}", "--shared", "0.3"], isic2019.GROUND_TRUTH),
        ("isic2020", [], "train.csv"),
        ("bcn20000", ["--export", "2023"], "bcn20000_metadata_2023-08-28.csv"),
    ],
)
def test_the_cli_writes_each_layout_the_same_way_twice_and_refuses_a_used_folder(
    roots, tmp_path, capsys, layout, args, csv
):
    args = [a.format(ham=roots["ham"][0]) for a in args]
    for out in ("a", "b"):
        synthetic_main(["--layout", layout, "--out", str(tmp_path / out), *TINY, *args])
    assert capsys.readouterr().out.startswith("wrote ")
    assert (tmp_path / "a" / csv).read_bytes() == (tmp_path / "b" / csv).read_bytes()
    first = sorted((tmp_path / "a").rglob("*.jpg"))[0]
    assert first.read_bytes() == (tmp_path / "b" / first.relative_to(tmp_path / "a")).read_bytes()
    with pytest.raises(SystemExit) as exit_:
        synthetic_main(["--layout", layout, "--out", str(tmp_path / "a"), "--num-lesions", "14"])
    assert exit_.value.code == 2 and "already holds" in capsys.readouterr().err
