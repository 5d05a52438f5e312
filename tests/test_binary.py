"""The binary task: HAM10000 relabelled benign/malignant, the benign/malignant folder layout
(data=isic_binary) and its synthetic writer, and the binary metrics of a run."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skinlight.data.classification import HAM10000DataModule, ISICBinaryDataModule
from skinlight.data.layouts.ham10000 import MALIGNANT
from skinlight.data.layouts.isic_binary import read_isic_binary
from skinlight.errors import ConfigError, DataError
from skinlight.synthetic.cli import main
from skinlight.synthetic.isic_binary import generate_isic_binary
from skinlight.train import run

USUAL_KEYS = {
    "test/acc",
    "test/balanced_acc",
    "test/f1_macro",
    "test/precision_macro",
    "test/recall_macro",
    "test/auroc_macro",
    "test/ece",
}
BINARY_KEYS = {"test/sensitivity", "test/specificity", "test/auroc"}


@pytest.fixture(scope="module")
def isic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isic") / "binary"
    generate_isic_binary(root, num_train=40, num_test=12, seed=0, image_size=(48, 48))
    return root


def _expected_take(n: int, fraction: float = 0.2) -> int:
    return min(max(1, round(fraction * n)), n - 1)


def test_ham10000_binary_task_relabels_and_stratifies_by_the_binary_label(synthetic_root):
    dm = HAM10000DataModule(str(synthetic_root), image_size=32, batch_size=8, num_workers=0, task="binary")
    dm.setup()
    table = dm.table
    assert dm.classes == ("benign", "malignant")
    assert (table["label"] == table["dx"].isin(MALIGNANT)).all()
    assert (table.groupby("lesion_id")["split"].nunique() == 1).all()
    lesions = table.drop_duplicates("lesion_id")
    for label in (0, 1):  # test = 20 % of the lesions of each binary class, val = 20 % of the rest
        n = (lesions["label"] == label).sum()
        n_test = ((lesions["label"] == label) & (lesions["split"] == "test")).sum()
        n_val = ((lesions["label"] == label) & (lesions["split"] == "val")).sum()
        assert n_test == _expected_take(n) and n_val == _expected_take(n - n_test)
    assert dm.class_counts == np.bincount(table.loc[table.split == "train", "label"], minlength=2).tolist()


def test_binary_split_csv_names_benign_and_malignant(synthetic_root, tmp_path):
    dm = HAM10000DataModule(str(synthetic_root), image_size=32, num_workers=0, task="binary", malignant=["mel"])
    dm.setup()
    dm.write_split(tmp_path / "split.csv")
    split = pd.read_csv(tmp_path / "split.csv")
    dx = pd.read_csv(synthetic_root / "HAM10000_metadata.csv").set_index("image_id")["dx"][split["image_id"]]
    assert split["label"].tolist() == np.where(dx == "mel", "malignant", "benign").tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(task="ternary"), "data.task must be multiclass or binary, got 'ternary'"),
        (dict(task="binary", malignant=["melanoma"]), r"data.malignant has \['melanoma'\], not among data.classes"),
    ],
)
def test_bad_task_settings_name_the_key(synthetic_root, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        HAM10000DataModule(str(synthetic_root), **kwargs)


def test_writer_makes_the_folder_layout_deterministically(isic_root, tmp_path, capsys):
    counts = {
        f"{s}/{c}": len(list((isic_root / s / c).glob("*.jpg")))
        for s in ("train", "test")
        for c in ("benign", "malignant")
    }
    assert counts == {"train/benign": 22, "train/malignant": 18, "test/benign": 7, "test/malignant": 5}
    main(
        ["--layout", "isic_binary", "--out", str(tmp_path / "a"), "--num-train", "4", "--num-test", "2", "--size", "32"]
    )
    assert "wrote 6 images" in capsys.readouterr().out
    generate_isic_binary(tmp_path / "b", num_train=4, num_test=2, image_size=(32, 32))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.jpg"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    with pytest.raises(DataError, match="already holds a train/ or test/ folder"):
        generate_isic_binary(tmp_path / "a")


def test_reader_ids_are_paths_because_file_names_repeat(isic_root):
    table = read_isic_binary(isic_root)
    assert len(table) == 52 and table["image_id"].is_unique
    assert {"train/benign/1.jpg", "train/malignant/1.jpg", "test/benign/1.jpg"} <= set(table["image_id"])
    assert (table["label"] == table["image_id"].str.contains("/malignant/")).all()
    assert (table["split"] == table["image_id"].str.split("/").str[0]).all()


def test_datamodule_keeps_the_test_folder_and_splits_the_train_folder(isic_root, tmp_path):
    dm = ISICBinaryDataModule(str(isic_root), image_size=32, batch_size=8, num_workers=0)
    dm.setup()
    table = dm.table
    assert set(table.loc[table.split == "test", "image_id"]) == {i for i in table.image_id if i.startswith("test/")}
    for label, n in ((0, 22), (1, 18)):  # val: 20 % of each class of the train folder
        assert ((table.split == "val") & (table.label == label)).sum() == _expected_take(n)
    assert dm.meta_dim == 0 and "meta" not in next(iter(dm.train_dataloader()))
    dm.write_split(tmp_path / "split.csv")
    split = pd.read_csv(tmp_path / "split.csv")
    assert split["lesion_id"].isna().all() and set(split["label"]) == {"benign", "malignant"}
    with pytest.raises(ConfigError, match="data=isic_binary has no patient metadata"):
        ISICBinaryDataModule(str(isic_root), use_metadata=True)


def test_a_test_fraction_pools_both_folders_for_split_ratio_sweeps(isic_root):
    dm = ISICBinaryDataModule(str(isic_root), image_size=32, num_workers=0, test_fraction=0.5)
    dm.setup()
    test = dm.table[dm.table.split == "test"]
    assert [(test.label == label).sum() for label in (0, 1)] == [_expected_take(29, 0.5), _expected_take(23, 0.5)]
    assert {i.split("/")[0] for i in test.image_id} == {"train", "test"}


def test_run_on_the_binary_task_reports_sensitivity_specificity_auroc(make_cfg):
    cfg = make_cfg("data.task=binary", "trainer.max_epochs=1", "+trainer.limit_train_batches=2")
    run_dir = Path(cfg.hydra.runtime.output_dir)
    run(cfg, run_dir)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert USUAL_KEYS | BINARY_KEYS <= set(saved)
    assert saved["test/sensitivity"] == pytest.approx(saved["test/recall_malignant"])
    assert saved["test/specificity"] == pytest.approx(saved["test/recall_benign"])
    assert saved["test/auroc"] == pytest.approx(saved["test/auroc_malignant"])
    per_class = pd.read_csv(run_dir / "report" / "per_class.csv")
    split = pd.read_csv(run_dir / "split.csv")
    assert per_class["class"].tolist() == ["benign", "malignant"]
    assert per_class["support"].sum() == (split["split"] == "test").sum()
    assert (run_dir / "report" / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_run_on_the_folder_layout(make_cfg, isic_root):
    cfg = make_cfg("data=isic_binary", "trainer.fast_dev_run=true", data_root=isic_root)
    run_dir = Path(cfg.hydra.runtime.output_dir)
    metrics = run(cfg, run_dir)
    assert USUAL_KEYS | BINARY_KEYS <= set(metrics)
    split = pd.read_csv(run_dir / "split.csv")
    assert (split["split"] == "test").sum() == 12 and split["lesion_id"].isna().all()
