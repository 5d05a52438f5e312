"""End to end through run(cfg) and through the `python train.py` command line."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from skinlight.checkpoints import load_checkpoint
from skinlight.errors import SkinlightError
from skinlight.reports.curves import epoch_table
from skinlight.train import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("backbone", ["timm_test", "backbone.name=test_efficientnet"])
@pytest.mark.parametrize("head", ["linear", "le2020"])
@pytest.mark.parametrize("loss", ["ce", "weighted_ce", "focal"])
def test_fast_dev_run_grid(make_cfg, backbone, head, loss):
    overrides = [f"head={head}", f"loss={loss}", "trainer.fast_dev_run=true"]
    if "=" in backbone:
        overrides.append(backbone)
    cfg = make_cfg(*overrides)
    metrics = run(cfg, cfg.hydra.runtime.output_dir)
    assert 0.0 <= metrics["test/balanced_acc"] <= 1.0


def test_run_writes_the_run_directory_contract(make_cfg):
    cfg = make_cfg("trainer.max_epochs=2", "loss=focal", "loss.alpha=balanced")
    run_dir = Path(cfg.hydra.runtime.output_dir)
    metrics = run(cfg, run_dir)

    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    expected = {
        "test/acc",
        "test/balanced_acc",
        "test/f1_macro",
        "test/precision_macro",
        "test/recall_macro",
        "test/auroc_macro",
        "test/top2_acc",
        "test/top3_acc",
        "test/ece",
    }
    expected |= {f"test/{m}_{c}" for m in ("recall", "precision", "f1", "specificity", "auroc") for c in classes}
    assert expected <= set(saved)

    split = pd.read_csv(run_dir / "split.csv")
    assert list(split.columns) == ["image_id", "lesion_id", "label", "split", "fold"]
    assert (split.groupby("lesion_id")["split"].nunique() == 1).all()
    for name in ("train", "val", "test"):
        assert split.loc[split["split"] == name, "label"].nunique() == 7

    per_class = pd.read_csv(run_dir / "report" / "per_class.csv")
    assert per_class["class"].tolist() == classes
    assert per_class["support"].sum() == (split["split"] == "test").sum()
    assert per_class["recall"].tolist() == pytest.approx([saved[f"test/recall_{c}"] for c in classes])
    test = split[split["split"] == "test"]
    for m in ("balanced_acc", "acc"):  # 95 % intervals from a bootstrap over the test lesions
        assert saved[f"test/{m}_ci_low"] <= saved[f"test/{m}"] <= saved[f"test/{m}_ci_high"]
    assert {f"test/{m}_ci_high" for m in ("f1_macro", "auroc_macro", "recall_mel")} <= set(saved)
    assert saved["test/ci_groups"] == test["lesion_id"].nunique() and saved["test/ci_resamples"] == 1000
    predictions = pd.read_csv(run_dir / "predictions.csv")  # the test images in split.csv's order
    assert predictions[["image_id", "lesion_id", "label"]].values.tolist() == test[split.columns[:3]].values.tolist()
    assert predictions[classes].sum(1).to_numpy() == pytest.approx(1, abs=1e-5)
    assert (predictions["prediction"] == predictions[classes].idxmax(1)).all()
    subgroups = pd.read_csv(run_dir / "report" / "subgroups.csv")  # synthetic metadata: sex, age, site, dx_type
    assert set(subgroups.attribute) == {"all", "sex", "age_band", "site", "dx_type"}
    assert (subgroups.groupby("attribute")["images"].sum() == len(test)).all()
    assert subgroups.loc[subgroups.attribute == "all", "balanced_acc"].item() == pytest.approx(
        saved["test/balanced_acc"], abs=1e-6
    )
    for png in ("confusion_matrix.png", "roc.png", "subgroups.png"):
        assert (run_dir / "report" / png).read_bytes()[:4] == b"\x89PNG"
    epochs = epoch_table(run_dir / "logs" / "metrics.csv")  # the learning curves' values: 2 epochs, train and val
    assert (
        len(epochs) == 2
        and epochs[["train/loss", "val/loss", "train/balanced_acc", "val/balanced_acc"]].notna().all().all()
    )
    assert (run_dir / "report" / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"

    for name in ("best.ckpt", "last.ckpt"):
        ckpt = torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)
        assert ckpt["hyper_parameters"]["backbone"]["name"] == "test_resnet"
    model = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    assert model.hparams.class_names == classes


def test_same_seed_same_split(make_cfg, tmp_path):
    from skinlight.train import build_datamodule

    tables = []
    for _ in range(2):
        dm = build_datamodule(make_cfg("seed=7"))
        dm.setup()
        tables.append(dm.table[["image_id", "split"]])
    pd.testing.assert_frame_equal(*tables)


def test_unknown_timm_name_is_one_clear_error(make_cfg, tmp_path):
    with pytest.raises(SkinlightError, match="backbone.name='resnet5O' is not a timm model; close matches"):
        run(make_cfg("backbone.name=resnet5O"), tmp_path)


def cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True)


def test_cli_default_job_on_small_synthetic_data(tmp_path):
    """`python train.py` with its defaults, made small: generates the data, trains, tests."""
    out = cli(
        f"paths.data_dir={tmp_path / 'data'}",
        "data.num_lesions=80",
        "data.width=120",
        "data.height=90",
        "trainer.max_epochs=1",
        "data.image_size=32",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = next((tmp_path / "outputs").glob("*/*"))
    assert (run_dir / "metrics.json").exists() and (run_dir / "split.csv").exists()
    assert (tmp_path / "data" / "synthetic_ham10000" / "n80_120x90_seed0" / "HAM10000_metadata.csv").exists()


def test_cli_multirun_writes_a_summary(tmp_path, synthetic_root):
    out = cli(
        "-m",
        "data=ham10000",
        f"data.root={synthetic_root}",
        "data.num_workers=0",
        "backbone=timm_test",
        "data.image_size=32",
        "loss=ce,focal",
        "trainer.fast_dev_run=true",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = next((tmp_path / "multirun").glob("*/*"))
    assert (sweep / "0" / "metrics.json").exists() and (sweep / "1" / "metrics.json").exists()
    summary = pd.read_csv(sweep / "summary.csv")
    assert summary["loss"].tolist() == ["ce", "focal"] and (summary["status"] == "ok").all()
    assert "balanced_acc" in summary and "| loss" in (sweep / "summary.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["backbone=resnet5O"], "Could not find 'backbone/resnet5O'"),
        (
            ["data=ham10000", "data.root=/no/such/folder"],
            "error: data.root does not exist or is not a folder: /no/such/folder",
        ),
        (["data=ham10000"], "Missing mandatory value: data.root"),
    ],
)
def test_cli_bad_input_says_what_to_change(tmp_path, args, message):
    out = cli(*args, "backbone.pretrained=false", cwd=tmp_path)
    assert out.returncode != 0
    assert message in out.stderr
