"""Self-describing checkpoints: a checkpoint copied alone evaluates, predicts and exports; one wiring route."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import CONF_DIR, FAST
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict
from test_eval import _compose

from skinlight.data.segmentation import PH2DataModule
from skinlight.errors import ConfigError
from skinlight.evaluation.explain import explain
from skinlight.evaluation.export import export
from skinlight.inference.classify import predict
from skinlight.train import run

REPO = Path(__file__).resolve().parents[1]
SMALL_SYNTHETIC = [
    "data=synthetic",
    "data.num_lesions=80",
    "data.width=120",
    "data.height=90",
    "data.image_size=32",
    "data.batch_size=16",
    "backbone=timm_test",
    "trainer.max_epochs=1",
    "logger=csv",
    "callbacks.progress_bar=null",
    "trainer.accelerator=cpu",
]


def _train(tmp_path: Path, overrides: list[str]) -> Path:
    """run() as `python train.py OVERRIDES` from tmp_path; returns the run directory."""
    run_dir = tmp_path / "run"
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir, cfg.hydra.runtime.cwd, cfg.hydra.job.num = str(run_dir), str(tmp_path), 0
    HydraConfig.instance().set_config(cfg)
    run(cfg, run_dir)
    return run_dir


def test_a_checkpoint_copied_alone_evaluates_predicts_and_exports(tmp_path):
    run_dir = _train(tmp_path, SMALL_SYNTHETIC)
    alone = tmp_path / "alone"
    alone.mkdir()
    ckpt = Path(shutil.copy(run_dir / "checkpoints" / "best.ckpt", alone / "best.ckpt"))

    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    hp = checkpoint["hyper_parameters"]
    assert checkpoint["skinlight"]["task"] == "classification"
    assert hp["image_size"] == 32 and hp["resize"] == "squash" and len(hp["mean"]) == len(hp["std"]) == 3
    assert hp["class_names"] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert hp["metadata"]["age_std"] > 0 and "unknown" in hp["metadata"]["sites"]
    assert hp["data"]["split_sha256"] == hashlib.sha256((run_dir / "split.csv").read_bytes()).hexdigest()
    assert hp["data"]["config"]["_target_"].endswith("SyntheticHAM10000DataModule")

    # eval.py from the empty folder, no data option repeated: the training run's test metrics
    out = subprocess.run(
        [sys.executable, str(REPO / "eval.py"), "ckpt_path=best.ckpt", "data=synthetic", "hydra.run.dir=evaluated"],
        cwd=alone,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    evaluated = json.loads((alone / "evaluated" / "metrics.json").read_text())
    trained = json.loads((run_dir / "metrics.json").read_text())
    assert evaluated["test/balanced_acc"] == pytest.approx(trained["test/balanced_acc"], abs=1e-6)
    assert evaluated["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert not (alone / "data").exists()  # the training data was found, nothing regenerated

    images = pd.read_csv(alone / "evaluated" / "predictions.csv").path[:4]
    table = predict(str(ckpt), str(Path(images[0]).parent), str(tmp_path / "p.csv"))
    assert table.columns[1:-1].tolist() == hp["class_names"] and len(table) > 0
    cases = explain(_compose("explain", [f"ckpt_path={ckpt}", "n=2", "data=synthetic"], alone / "x"), alone / "x")
    assert len(cases) == 2 and (alone / "x" / "gradcam.png").is_file()
    diffs = export(ckpt, tmp_path / "export")
    assert (
        max(diffs.values()) < 1e-4 and json.loads((tmp_path / "export" / "parity.json").read_text())["image_size"] == 32
    )


def test_a_metadata_model_predicts_from_a_csv_with_age_sex_and_site(tmp_path, synthetic_root):
    run_dir = _train(tmp_path, [*FAST, f"data.root={synthetic_root}", "meta=gessert", "trainer.max_epochs=1"])
    ckpt = str(Path(shutil.copy(run_dir / "checkpoints" / "best.ckpt", tmp_path / "meta.ckpt")))
    metadata = pd.read_csv(synthetic_root / "HAM10000_metadata.csv").head(6)
    paths = [str(next(synthetic_root.rglob(f"{i}.jpg"))) for i in metadata.image_id]
    rows = pd.DataFrame(
        {"image": paths, "age": metadata.age, "sex": metadata.sex, "localization": metadata.localization}
    )
    rows.loc[0, "age"], rows.loc[1, "sex"] = None, None  # blank cells: encoded as in training
    rows.to_csv(tmp_path / "in.csv", index=False)
    table = predict(ckpt, str(tmp_path / "in.csv"), str(tmp_path / "p.csv"))
    classes = table.columns[1:-1]
    assert len(table) == 6 and table[classes].sum(1).round(5).eq(1).all()
    rows.assign(age=5, sex="female", localization="acral").to_csv(tmp_path / "other.csv", index=False)
    other = predict(ckpt, str(tmp_path / "other.csv"), str(tmp_path / "o.csv"))
    assert (other[classes] - table[classes]).abs().to_numpy().max() > 1e-6  # the metadata reach the model
    rows.drop(columns="age").to_csv(tmp_path / "no_age.csv", index=False)
    with pytest.raises(
        ConfigError,
        match="fuses patient metadata .*a CSV without age: give a CSV with columns image, age, sex, localization",
    ):
        predict(ckpt, str(tmp_path / "no_age.csv"), str(tmp_path / "x.csv"))
    with pytest.raises(ConfigError, match="gives images without a CSV"):
        predict(ckpt, str(Path(paths[0]).parent), str(tmp_path / "x.csv"))


def test_cfg_job_shows_every_part_of_the_model():
    out = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--cfg", "job", "backbone=resnet50", "loss=focal"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    model = yaml.safe_load(out.stdout)["model"]
    assert {"backbone", "head", "meta", "loss", "optimizer", "scheduler"} <= set(model)
    assert model["backbone"] == "${backbone}" and model["loss"] == "${loss}"
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):  # what --resolve prints
        cfg = compose("train", overrides=["backbone=resnet50", "loss=focal"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    model = OmegaConf.to_container(cfg.model, resolve=True)
    assert model["backbone"]["name"] == "resnet50" and model["loss"]["_target_"].endswith("FocalLoss")


def test_segmentation_data_refuses_classification_options(tmp_path):
    for kwargs, key in (
        (dict(sampler=object()), "sampler"),
        (dict(cache=True), "data.cache"),
        (dict(pipeline=object()), "pipeline"),
    ):
        with pytest.raises(ConfigError, match=f"^{key}: classification options, which segmentation data cannot use"):
            PH2DataModule(str(tmp_path), **kwargs)
