"""data=isic2018_task3: the reader of the official validation/test layout, its synthetic copy, eval.py on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning.pytorch as L
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import CONF_DIR
from test_eval import _compose

from skinlight.data.classification import ISIC2018Task3DataModule
from skinlight.data.layouts.ham10000 import CLASSES
from skinlight.data.layouts.isic2018_task3 import ONE_HOT, read_isic2018_task3
from skinlight.data.metadata import MetadataEncoder
from skinlight.errors import ConfigError, DataError
from skinlight.evaluation.evaluate import compute_metrics, evaluate
from skinlight.models.classifier import Classifier
from skinlight.synthetic.isic2018_task3 import generate_isic2018_task3

META_CSV = "ISIC2018_Task3_Test_Metadata.csv"
TASK3 = ["data=isic2018_task3", "data.num_workers=0", "data.image_size=32", "data.batch_size=16"]


def _option(group: str, name: str) -> dict:
    return yaml.safe_load((Path(CONF_DIR) / group / f"{name}.yaml").read_text())


TRAINED_ON = {
    "config": {
        "_target_": "skinlight.data.classification.ISICBinaryDataModule",
        "root": "/elsewhere",
        "image_size": 32,
        "resize": "squash",
    },
    "root": "/elsewhere",
    "split_sha256": "",
    "images": {},
}


def tiny_checkpoint(path: Path, head: str = "linear", metadata: dict | None = None) -> Path:
    """A randomly initialised timm_test classifier (32 px, "trained" on another dataset) saved as a skinlight
    checkpoint; with `metadata` (a fitted encoding) it fuses metadata (gessert)."""
    L.seed_everything(0)
    model = Classifier(
        _option("backbone", "timm_test"),
        _option("head", head),
        _option("loss", "ce"),
        _option("optimizer", "adam"),
        list(CLASSES),
        metadata=metadata,
        meta=_option("meta", "gessert") if metadata else None,
        image_size=32,
        data=TRAINED_ON,
    )
    trainer = L.Trainer(
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.strategy.connect(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(path, weights_only=True)
    return path


@pytest.fixture(scope="module")
def task3_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("task3") / "isic2018_task3"
    generate_isic2018_task3(root, (14, 20), image_size=(120, 90))
    return root


def test_reader_reads_both_sets_labels_and_metadata(task3_root):
    table = read_isic2018_task3(task3_root, metadata_csv=META_CSV)
    for which, split in (("Validation", "val"), ("Test", "test")):
        truth = pd.read_csv(
            task3_root / f"ISIC2018_Task3_{which}_GroundTruth" / f"ISIC2018_Task3_{which}_GroundTruth.csv"
        )
        rows = table[table.split == split].set_index("image_id").loc[truth.image]
        assert (rows.dx.to_numpy() == [ONE_HOT[i].lower() for i in truth[list(ONE_HOT)].to_numpy().argmax(1)]).all()
        assert (rows.label == rows.dx.map(CLASSES.index)).all()
    assert not table.path.map(lambda p: p.suffix == ".txt").any()  # ATTRIBUTION.txt / LICENSE.txt are not images
    meta = pd.read_csv(task3_root / META_CSV)
    test = table[table.split == "test"].set_index("image_id")
    known, unknown = test.loc[meta.image_id], test.drop(meta.image_id)
    assert len(unknown) > 0 and (unknown.sex == "unknown").all() and unknown.age.isna().all()
    assert (known.sex.to_numpy() == meta.sex.to_numpy()).all()
    assert (table[table.split == "val"].localization == "unknown").all()  # the challenge CSV has no metadata


def test_reader_takes_the_dataverse_form_with_its_metadata(task3_root, tmp_path):
    """The HAM10000 Dataverse ships the test ground truth as lesion_id,image_id,dx,...,age,sex,localization."""
    root = tmp_path / "dataverse"
    shutil.copytree(task3_root / "ISIC2018_Task3_Test_Input", root / "ISIC2018_Task3_Test_Images")
    meta = pd.read_csv(task3_root / META_CSV)
    meta.to_csv(root / "ISIC2018_Task3_Test_GroundTruth.csv", index=False)
    table = read_isic2018_task3(root, allow_missing=True)  # the images meta leaves out are simply not listed
    assert sorted(table.image_id) == sorted(meta.image_id) and set(table.split) == {"test"}
    assert (table.set_index("image_id").loc[meta.image_id].lesion_id.to_numpy() == meta.lesion_id.to_numpy()).all()


def test_reader_names_the_file_and_rows_of_bad_input(task3_root, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(task3_root, root)
    truth = root / "ISIC2018_Task3_Validation_GroundTruth" / "ISIC2018_Task3_Validation_GroundTruth.csv"
    table = pd.read_csv(truth)
    good = table.copy()
    table.loc[2, "MEL"] = 1.0 - table.loc[2, "MEL"]  # two diagnoses or none
    table.to_csv(truth, index=False)
    with pytest.raises(
        DataError, match=f"ISIC2018_Task3_Validation_GroundTruth.csv: each row .*line 4 \\({table.image[2]}\\)"
    ):
        read_isic2018_task3(root)
    good.to_csv(truth, index=False)
    image = root / "ISIC2018_Task3_Validation_Input" / f"{good.image[0]}.jpg"
    image.write_text("not a JPEG")
    with pytest.raises(DataError, match=rf"{image.name} \(not an image"):
        read_isic2018_task3(root)
    image.unlink()
    with pytest.raises(
        DataError, match=f"1 image\\(s\\) in the ground truth not found .*{good.image[0]}.*allow_missing"
    ):
        read_isic2018_task3(root)
    assert good.image[0] not in set(read_isic2018_task3(root, allow_missing=True).image_id)
    with pytest.raises(
        DataError, match="no ISIC 2018 Task 3 ground truth under .*ISIC2018_Task3_Validation_GroundTruth"
    ):
        read_isic2018_task3(tmp_path)
    with pytest.raises(ConfigError, match="for evaluation: train on data=ham10000"):
        ISIC2018Task3DataModule(str(root)).setup("fit")


def test_eval_on_the_task3_layout_writes_metrics(task3_root, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "run" / "checkpoints" / "best.ckpt")
    common = [*TASK3, f"ckpt_path={ckpt}", f"data.metadata_csv={META_CSV}"]
    for split, which in (("test", "Test"), ("val", "Validation")):
        out = tmp_path / split
        cfg = _compose("eval", [*common, f"split={split}"], out, task3_root)
        table = evaluate(cfg, out)
        metrics = json.loads((out / "metrics.json").read_text())
        predictions = pd.read_csv(out / "predictions.csv")
        truth = pd.read_csv(
            task3_root / f"ISIC2018_Task3_{which}_GroundTruth" / f"ISIC2018_Task3_{which}_GroundTruth.csv"
        )
        assert sorted(predictions.image_id) == sorted(truth.image)
        labels = torch.tensor(predictions.label.map(CLASSES.index).to_numpy())
        expected = compute_metrics(
            torch.tensor(predictions[list(CLASSES)].to_numpy()), labels, list(CLASSES), f"{split}/"
        )
        assert metrics[f"{split}/balanced_acc"] == pytest.approx(expected[f"{split}/balanced_acc"], abs=1e-6)
        assert table.columns[-1] == "balanced_acc" and (out / "report" / "confusion_matrix.png").is_file()


def test_metadata_models_standardise_ages_with_the_encoding_their_checkpoint_holds(task3_root, tmp_path):
    encoding = MetadataEncoder().state() | {"age_mean": 51.5, "age_std": 9.25}
    ckpt = tiny_checkpoint(tmp_path / "run" / "checkpoints" / "best.ckpt", metadata=encoding)
    evaluate(
        _compose("eval", [*TASK3, f"ckpt_path={ckpt}", f"data.metadata_csv={META_CSV}"], tmp_path / "b", task3_root),
        tmp_path / "b",
    )
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["test/balanced_acc"] >= 0
    with pytest.raises(ConfigError, match="no training split to fit the metadata encoding on"):
        ISIC2018Task3DataModule(str(task3_root), metadata_csv=META_CSV, image_size=32).setup("test")
    dm = ISIC2018Task3DataModule(
        str(task3_root), metadata_csv=META_CSV, image_size=32, num_workers=0, metadata=encoding
    )
    dm.setup("test")
    ages = pd.to_numeric(dm.table.age[dm.table.split == "test"]).to_numpy()  # the reader keeps text cells
    meta = dm.datasets["test"].meta
    known = ~np.isnan(ages)
    assert known.any() and (~known).any()
    assert np.allclose(meta[known, 0], (ages[known] - 51.5) / 9.25, atol=1e-5)
    assert (meta[~known, 1] == 1).all()  # the missing-age flag
