"""eval.py, predict.py and the sweep-summary CLI on a tiny trained checkpoint (timm_test, 32 px)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import CONF_DIR, FAST, user_error
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict
from sklearn.metrics import roc_curve

from skinlight.errors import CheckpointError, ConfigError, DataError
from skinlight.evaluation import compare, summary
from skinlight.evaluation.evaluate import TABLE_METRICS, compute_metrics, evaluate
from skinlight.evaluation.export import export, export_hf
from skinlight.evaluation.export import main as export_main
from skinlight.inference.calibration import apply_temperature, fit_temperature
from skinlight.inference.classify import predict
from skinlight.inference.ensemble import combine, load_classifier
from skinlight.inference.tta import VIEWS, check_views
from skinlight.metrics.bootstrap import Bootstrap
from skinlight.metrics.classification import classification_metrics
from skinlight.models.classifier import Classifier
from skinlight.models.segmenter import Segmenter
from skinlight.reports.calibration import plot_reliability
from skinlight.train import run


def _compose(name: str, overrides, out_dir: Path, data_root: Path | None = None):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out_dir)
        cfg.hydra.runtime.cwd = str(out_dir)
        cfg.hydra.job.num = 0
        if data_root:
            cfg.data.root = str(data_root)
    HydraConfig.instance().set_config(cfg)
    return cfg


EVAL_DATA = ["data=ham10000", "data.num_workers=0", "data.image_size=32", "data.batch_size=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_root) -> Path:
    """A run directory trained 2 epochs: checkpoints/best.ckpt and last.ckpt, split.csv, metrics.json."""
    run_dir = tmp_path_factory.mktemp("trained")
    cfg = _compose("train", [*FAST, "trainer.max_epochs=2"], run_dir, synthetic_root)
    run(cfg, run_dir)
    return run_dir


def _eval(tmp_path, synthetic_root, *overrides):
    cfg = _compose("eval", [*EVAL_DATA, *overrides], tmp_path, synthetic_root)
    return evaluate(cfg, tmp_path), json.loads((tmp_path / "metrics.json").read_text())


def test_eval_reproduces_the_training_test_metrics(trained, synthetic_root, tmp_path):
    table, metrics = _eval(tmp_path, synthetic_root, f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}")
    trained_metrics = json.loads((trained / "metrics.json").read_text())
    for key in ("test/balanced_acc", "test/acc", "test/auroc_macro", "test/f1_macro"):
        assert metrics[key] == pytest.approx(trained_metrics[key], abs=1e-5)
        for end in ("_ci_low", "_ci_high"):  # the same lesion resamples of the same predictions
            assert metrics[key + end] == pytest.approx(trained_metrics[key + end], abs=1e-5)
    subgroups = [pd.read_csv(d / "report" / "subgroups.csv") for d in (tmp_path, trained)]
    pd.testing.assert_frame_equal(*subgroups, atol=1e-5)
    assert table.columns.tolist() == ["model", *TABLE_METRICS] and len(table) == 1
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    split = pd.read_csv(trained / "split.csv")
    assert sorted(predictions.image_id) == sorted(split.image_id[split.split == "test"])
    classes = list(predictions.columns[4:-1])
    assert np.allclose(predictions[classes].sum(1), 1, atol=1e-5)
    assert (tmp_path / "report" / "confusion_matrix.png").is_file() and (
        tmp_path / "report" / "reliability.png"
    ).is_file()
    assert 0 <= metrics["test/sensitivity_at_90spec_mel"] <= 1
    per_class = pd.read_csv(tmp_path / "report" / "per_class.csv")
    assert per_class["recall"].notna().all()


def test_eval_on_the_train_split_is_the_training_images_without_augmentation(trained, synthetic_root, tmp_path):
    """split=train (the papers' training accuracy): every train image once, in split.csv order, deterministic."""
    ckpt = f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}"
    _, metrics = _eval(tmp_path / "a", synthetic_root, ckpt, "split=train")
    _, again = _eval(tmp_path / "b", synthetic_root, ckpt, "split=train")
    assert 0 <= metrics["train/balanced_acc"] <= 1 and metrics == again
    split = pd.read_csv(trained / "split.csv")
    predictions = pd.read_csv(tmp_path / "a" / "predictions.csv")
    assert predictions.image_id.tolist() == split.image_id[split.split == "train"].tolist()


def test_ensemble_of_a_sweep_with_tta_gives_the_table_vii_rows(trained, synthetic_root, tmp_path):
    sweep = tmp_path / "sweep"
    for job, ckpt in enumerate(("best", "last")):  # two members: the best and the last weights
        (sweep / str(job) / ".hydra").mkdir(parents=True)
        (sweep / str(job) / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"data.fold={job}", "seed=1"]))
        (sweep / str(job) / "checkpoints").mkdir()
        shutil.copy(trained / "checkpoints" / f"{ckpt}.ckpt", sweep / str(job) / "checkpoints" / "best.ckpt")
    out = tmp_path / "eval"
    table, metrics = _eval(out, synthetic_root, f"ensemble={sweep}", "tta=flips", "combine=geometric")
    assert table.model.tolist() == ["data.fold=0", "data.fold=1", "ensemble", "ensemble + TTA (flips)"]
    assert metrics["test/balanced_acc"] == pytest.approx(table.balanced_acc.iloc[-1])
    assert table[list(TABLE_METRICS)].notna().all().all()
    assert "| ensemble + TTA (flips)" in (out / "table.md").read_text()


def test_eval_with_multicrop_tta_adds_its_row(trained, synthetic_root, tmp_path):
    ckpt = f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}"
    fewer = ["tta.crops.scales=[0.8]", "tta.crops.grid=2"]  # 2 x (1 + 4) views, for speed
    table, metrics = _eval(tmp_path, synthetic_root, ckpt, "tta=multicrop", *fewer)
    assert table.model.tolist()[1:] == [f"{table.model[0]} + TTA (multicrop)"]
    assert metrics["test/balanced_acc"] == pytest.approx(table.balanced_acc.iloc[-1])
    assert table[list(TABLE_METRICS)].notna().all().all()
    assert " + TTA (multicrop) |" in (tmp_path / "table.md").read_text()


def _probs(predictions: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The class probabilities and labels of an eval predictions.csv."""
    table = pd.read_csv(predictions)
    classes = list(table.columns[4:-1])
    return torch.tensor(table[classes].to_numpy()), torch.tensor(table.label.map(classes.index).to_numpy())


def test_eval_calibrate_adds_the_last_row_temperature_scaled_with_t_fitted_on_val(trained, synthetic_root, tmp_path):
    ckpt = f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}"
    table, metrics = _eval(tmp_path / "calibrated", synthetic_root, ckpt, "tta=flips", "calibrate=true")
    temperature = metrics["test/temperature"]
    plain, tta, calibrated = table.model.tolist()
    assert tta == f"{plain} + TTA (flips)" and calibrated == f"{tta} + temperature (T={temperature:.2f})"
    before, after = table.iloc[1], table.iloc[2]
    for metric in ("acc", "balanced_acc", "top2_acc", "top3_acc"):  # the ranking of each row's classes is kept
        assert after[metric] == before[metric]
    assert metrics["test/ece_uncalibrated"] == pytest.approx(before.ece) and metrics["test/ece"] == after.ece
    assert metrics["test/balanced_acc"] == after.balanced_acc
    assert f"| {calibrated} |" in (tmp_path / "calibrated" / "table.md").read_text()
    _eval(tmp_path / "val", synthetic_root, ckpt, "tta=flips", "split=val")  # the TTA row on the val images
    assert fit_temperature(*_probs(tmp_path / "val" / "predictions.csv")) == pytest.approx(temperature, rel=1e-3)
    _eval(tmp_path / "test", synthetic_root, ckpt, "tta=flips")
    probs, _ = _probs(tmp_path / "test" / "predictions.csv")
    scaled, _ = _probs(tmp_path / "calibrated" / "predictions.csv")
    assert torch.allclose(scaled, apply_temperature(probs, temperature), atol=1e-5)


def test_ensemble_of_recorded_predictions_equals_the_checkpoint_ensemble(trained, synthetic_root, tmp_path):
    """Members evaluated one by one with TTA (their checkpoints then gone) ensemble as the checkpoints do."""
    ckpts = [trained / "checkpoints" / f"{name}.ckpt" for name in ("best", "last")]
    members = [
        _eval(tmp_path / name, synthetic_root, f"ckpt_path={ckpt}", "tta=flips")[0]
        for name, ckpt in zip(("a", "b"), ckpts)
    ]
    direct, metrics = _eval(tmp_path / "direct", synthetic_root, f"ensemble=[{ckpts[0]},{ckpts[1]}]", "tta=flips")
    files = [tmp_path / name / "predictions.csv" for name in ("a", "b")]
    table, recorded = _eval(tmp_path / "recorded", synthetic_root, f"ensemble=[{files[0]},{files[1]}]")
    assert table.model.tolist() == ["a", "b", "ensemble"]
    for row, member in zip(table.iloc[:2, 1:].to_numpy(), members):  # each member's own row "+ TTA (flips)"
        assert row == pytest.approx(member.iloc[-1, 1:].to_numpy(float), abs=1e-5, nan_ok=True)
    for key in ("test/balanced_acc", "test/acc", "test/auroc_macro", "test/balanced_acc_ci_low", "test/ece"):
        assert recorded[key] == pytest.approx(metrics[key], abs=1e-5)  # the row "ensemble + TTA (flips)"
    probs, labels = _probs(tmp_path / "recorded" / "predictions.csv")
    direct_probs, direct_labels = _probs(tmp_path / "direct" / "predictions.csv")
    assert torch.allclose(probs, direct_probs, atol=1e-6) and torch.equal(labels, direct_labels)
    assert (tmp_path / "recorded" / "isic2018_task3_submission.csv").is_file()


def test_recorded_members_that_do_not_match_are_refused(trained, synthetic_root, tmp_path):
    ckpt = trained / "checkpoints" / "best.ckpt"
    _eval(tmp_path / "val", synthetic_root, f"ckpt_path={ckpt}", "split=val")
    test, val = trained / "predictions.csv", tmp_path / "val" / "predictions.csv"
    with pytest.raises(DataError, match="were not tested on the same images"):
        _eval(tmp_path / "e", synthetic_root, f"ensemble=[{test},{val}]")
    with pytest.raises(ConfigError, match="mixes predictions.csv files and checkpoints"):
        _eval(tmp_path / "e", synthetic_root, f"ensemble=[{test},{ckpt}]")
    with pytest.raises(ConfigError, match="combines probabilities already recorded: tta= and calibrate=true"):
        _eval(tmp_path / "e", synthetic_root, f"ensemble=[{test},{val}]", "tta=flips")
    relabelled = pd.read_csv(test).assign(label="melanoma")
    relabelled.to_csv(tmp_path / "relabelled.csv", index=False)
    with pytest.raises(DataError, match=r"relabelled.csv: label 'melanoma' is not one of its class columns"):
        _eval(tmp_path / "e", synthetic_root, f"ensemble=[{test},{tmp_path / 'relabelled.csv'}]")
    pd.read_csv(test).drop(columns="lesion_id").to_csv(tmp_path / "bare.csv", index=False)
    with pytest.raises(DataError, match=r"bare.csv: missing column\(s\) lesion_id"):
        _eval(tmp_path / "e", synthetic_root, f"ensemble=[{test},{tmp_path / 'bare.csv'}]")


def segmentation_checkpoint(path: Path) -> Path:
    """A file with a Segmenter checkpoint's record and hyper-parameters (no weights)."""
    torch.save(
        {
            "skinlight": {"task": "segmentation"},
            "hyper_parameters": {"net": {"_target_": "segmentation_models_pytorch.Unet"}, "image_size": 32},
        },
        path,
    )
    return path


def test_compare_two_runs_on_the_same_test_images(trained, synthetic_root, tmp_path, capsys):
    ckpt = f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}"
    _eval(tmp_path / "flips", synthetic_root, ckpt, "tta=flips")
    table = compare.compare(trained, tmp_path / "flips", Bootstrap(resamples=500))  # a run dir and an eval folder
    trained_metrics = json.loads((trained / "metrics.json").read_text())
    flips = json.loads((tmp_path / "flips" / "metrics.json").read_text())
    assert table.metric.tolist() == ["balanced_acc", "acc", "f1_macro", "auroc_macro", "recall_mel"]
    row = table.set_index("metric").loc["balanced_acc"]
    assert row.a == pytest.approx(trained_metrics["test/balanced_acc"], abs=1e-5)
    assert row.b == pytest.approx(flips["test/balanced_acc"], abs=1e-5)
    assert row.difference == pytest.approx(row.a - row.b) and row.ci_low <= row.difference <= row.ci_high
    assert ((table.p < 0.05) == ((table.ci_low > 0) | (table.ci_high < 0))).all()  # p and interval agree
    same = compare.compare(trained, trained, Bootstrap(resamples=200))
    assert (same.difference == 0).all() and (same.p == 1).all()

    compare.main([str(trained), str(tmp_path / "flips"), "--resamples", "300", "--csv", str(tmp_path / "c.csv")])
    out = capsys.readouterr().out
    lesions = pd.read_csv(trained / "predictions.csv").lesion_id.nunique()
    assert f"of {lesions} lesions; paired bootstrap over lesions, 300 resamples" in out
    assert re.search(r"balanced_acc +[0-9.]+ +[0-9.]+ +-?[0-9.]+ +\[[-+][0-9.]+, [-+][0-9.]+\] +[0-9.]+ +(yes|no)", out)
    assert pd.read_csv(tmp_path / "c.csv").metric.tolist() == table.metric.tolist()

    _eval(tmp_path / "val", synthetic_root, ckpt, "split=val")  # other images: refused in one line
    message = user_error(capsys, compare.main, [str(trained), str(tmp_path / "val")])
    assert "were not tested on the same images" in message
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "flips", broken)
    predictions = pd.read_csv(broken / "predictions.csv")
    predictions["mel"] = predictions["mel"].astype(object)
    predictions.loc[3, "mel"] = "n/a"
    predictions.to_csv(broken / "predictions.csv", index=False)
    assert "line 5, column mel: 'n/a' is not a number" in user_error(capsys, compare.main, [str(trained), str(broken)])
    assert "neither predictions.csv" in user_error(capsys, compare.main, [str(trained), str(tmp_path / "none")])


def test_eval_refuses_missing_foreign_and_mixed_task_checkpoints(trained, synthetic_root, tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nowhere.ckpt"):
        _eval(tmp_path, synthetic_root, f"ckpt_path={tmp_path / 'nowhere.ckpt'}")
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 0.1}}, tmp_path / "foreign.ckpt")  # another program's
    with pytest.raises(CheckpointError, match="foreign.ckpt is not a skinlight checkpoint"):
        _eval(tmp_path, synthetic_root, f"ckpt_path={tmp_path / 'foreign.ckpt'}")
    seg = segmentation_checkpoint(tmp_path / "seg.ckpt")
    with pytest.raises(CheckpointError, match="seg.ckpt is a segmentation checkpoint.*predict_masks.py"):
        _eval(tmp_path, synthetic_root, f"ensemble=[{trained / 'checkpoints' / 'best.ckpt'},{seg}]")
    with pytest.raises(ConfigError, match="exactly one of ckpt_path"):
        _eval(tmp_path, synthetic_root)
    with pytest.raises(ConfigError, match="postprocess=largest_filled cleans masks: a classification checkpoint"):
        _eval(
            tmp_path, synthetic_root, f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}", "postprocess=largest_filled"
        )


@pytest.mark.parametrize(
    "option, trained_with",
    [
        ("data.split_seed=7", "data.split_seed=42"),
        ("data.image_size=64", "data.image_size=32"),
        ("data.task=binary", "data.task=multiclass"),
    ],
)
def test_eval_refuses_data_options_that_contradict_the_checkpoint(
    trained, synthetic_root, tmp_path, option, trained_with
):
    with pytest.raises(ConfigError, match=f"^{option} contradicts .*best.ckpt, trained with {trained_with}: leave"):
        _eval(tmp_path, synthetic_root, f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}", option)


def test_tta_views_are_the_eight_dihedral_transforms_and_combine():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    images = {tuple(VIEWS[v](x).flatten().tolist()) for v in check_views(list(VIEWS))}
    assert len(images) == 8
    with pytest.raises(ConfigError, match="tta.views has \\['flip'\\]"):
        check_views(["flip"])
    probs = torch.tensor([[[0.9, 0.1]], [[0.1, 0.9]]])
    assert torch.allclose(combine(probs, "mean"), torch.tensor([[0.5, 0.5]]))
    unequal = torch.tensor([[[0.8, 0.2]], [[0.5, 0.5]]])
    geometric = torch.tensor([[0.4**0.5, 0.1**0.5]]) / (0.4**0.5 + 0.1**0.5)
    assert torch.allclose(combine(unequal, "geometric"), geometric)


def test_predict_folder_matches_eval(trained, synthetic_root, tmp_path):
    _eval(tmp_path / "eval", synthetic_root, f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}")
    evaluated = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    folder = tmp_path / "images"
    folder.mkdir()
    for p in evaluated.path:
        shutil.copy(p, folder)
    table = predict(str(trained / "checkpoints" / "best.ckpt"), str(folder), str(tmp_path / "p.csv"), batch_size=5)
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(evaluated)
    classes = list(table.columns[1:-1])
    assert np.allclose(table[classes].sum(1), 1, atol=1e-5)
    table.index = [Path(p).stem for p in table.path]
    expected = evaluated.set_index("image_id").loc[table.index]
    assert np.abs(table[classes].to_numpy() - expected[classes].to_numpy()).max() < 1e-5
    assert (table.prediction == expected.prediction).all()
    pd.DataFrame({"image": [f"images/{Path(p).name}" for p in evaluated.path[:3]]}).to_csv(tmp_path / "in.csv")
    from_csv = predict(str(trained / "checkpoints" / "best.ckpt"), str(tmp_path / "in.csv"), str(tmp_path / "c.csv"))
    assert np.allclose(
        from_csv[classes].to_numpy(),
        expected.loc[from_csv.path.map(lambda p: Path(p).stem), classes].to_numpy(),
        atol=1e-5,
    )


def test_predict_refuses_a_folder_with_a_non_image_file(trained, synthetic_root, tmp_path):
    shutil.copy(next(synthetic_root.rglob("*.jpg")), tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="holds file\\(s\\) that are not images.*notes.txt"):
        predict(str(trained / "checkpoints" / "best.ckpt"), str(tmp_path), str(tmp_path / "p.csv"))
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nowhere.ckpt"):
        predict(str(tmp_path / "nowhere.ckpt"), str(tmp_path), str(tmp_path / "p.csv"))
    with pytest.raises(CheckpointError, match="s.ckpt is a segmentation checkpoint.*predict_masks.py"):
        predict(str(segmentation_checkpoint(tmp_path / "s.ckpt")), str(tmp_path), str(tmp_path / "p.csv"))


def test_summary_cli_sorts_and_chooses_metrics(tmp_path, capsys):
    for num, (loss, bacc) in enumerate((("ce", 0.4), ("focal", 0.7))):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"loss={loss}"]))
        (job / "metrics.json").write_text(json.dumps({"test/balanced_acc": bacc, "test/acc": 0.9, "test/ece": 0.1}))
    summary.main([str(tmp_path), "--sort", "balanced_acc", "--metrics", "acc"])
    table = pd.read_csv(tmp_path / "summary.csv")
    assert table.columns.tolist() == ["job", "loss", "status", "balanced_acc", "acc"]
    assert table.loss.tolist() == ["focal", "ce"]
    assert "focal" in capsys.readouterr().out
    assert user_error(capsys, summary.main, [str(tmp_path), "--sort", "auroc_macro"]).startswith(
        "error: --sort: cannot sort by 'auroc_macro'"
    )


def test_export_onnx_and_torchscript_match_pytorch(trained, tmp_path):
    diffs = export(trained / "checkpoints" / "best.ckpt", tmp_path)
    assert set(diffs) == {"onnx", "torchscript"} and max(diffs.values()) < 1e-4
    assert (tmp_path / "model.onnx").stat().st_size > 0 and (tmp_path / "model.ts").is_file()
    parity = json.loads((tmp_path / "parity.json").read_text())
    assert parity["image_size"] == 32 and parity["max_abs_diff"] == diffs


def test_export_hf_folder_loads_back_identically_with_its_model_card(trained, tmp_path, capsys, monkeypatch):
    best = trained / "checkpoints" / "best.ckpt"
    out = tmp_path / "hf"
    export_main([str(best), "--format", "hf", "--out", str(out)])
    assert re.search(r"hf: .*hf loads back with probabilities \S+ \(< 1e-06\) away", capsys.readouterr().out)
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in out.iterdir()}
    original, loaded = load_classifier(best), Classifier.from_pretrained(out)
    images = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (loaded(images).softmax(1) - original(images).softmax(1)).abs().max() < 1e-6
    config = json.loads((out / "config.json").read_text())
    assert config["skinlight"]["task"] == "classification" and config["class_names"] == original.hparams.class_names
    card = (out / "README.md").read_text()
    metrics = json.loads((trained / "metrics.json").read_text())
    row = "| balanced_acc | {:.3f} | [{:.3f}, {:.3f}] |".format(
        *(metrics[f"test/balanced_acc{end}"] for end in ("", "_ci_low", "_ci_high"))
    )
    assert row in card and "not a medical device" in card and "library_name: skinlight" in card
    subgroups = pd.read_csv(trained / "report" / "subgroups.csv")
    female = subgroups[(subgroups.attribute == "sex") & (subgroups.value == "female")].iloc[0]
    assert f"| sex: female | {female.images} | {female.lesions} | {female.balanced_acc:.3f} [" in card
    assert "started from random initialisation (trained from scratch)" in card  # backbone=timm_test, not pretrained
    with pytest.raises(CheckpointError, match="holds a classification model; Segmenter.from_pretrained takes"):
        Segmenter.from_pretrained(out)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = user_error(capsys, export_main, [str(best), "--format", "hf", "--out", str(out), "--push-to-hub", "a/b"])
    assert message == f"error: --push-to-hub a/b: HF_HUB_OFFLINE=1; {out} is written, push it later"


def test_export_of_a_metadata_model_checks_it_with_metadata(synthetic_root, tmp_path):
    run_dir = tmp_path / "meta"
    run(_compose("train", [*FAST, "trainer.max_epochs=1", "meta=gessert"], run_dir, synthetic_root), run_dir)
    diff = export_hf(run_dir / "checkpoints" / "best.ckpt", tmp_path / "hf")
    loaded = Classifier.from_pretrained(tmp_path / "hf")
    assert diff < 1e-6 and loaded.fusion is not None
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "| patient metadata | gessert (" in card and "- Gessert et al. 2020" in card
    diffs = export(run_dir / "checkpoints" / "best.ckpt", tmp_path / "onnx")  # two inputs: image and meta
    parity = json.loads((tmp_path / "onnx" / "parity.json").read_text())
    assert max(diffs.values()) < 1e-4 and parity["inputs"] == ["image", "meta"]


def test_export_hf_refuses_a_segmentation_checkpoint(tmp_path, capsys):
    ckpt = segmentation_checkpoint(tmp_path / "s.ckpt")
    message = user_error(capsys, export_main, [str(ckpt), "--format", "hf", "--out", str(tmp_path)])
    assert re.match("error: .*s.ckpt is a segmentation checkpoint: --format hf takes a classifier", message)


def test_reliability_ece_and_melanoma_operating_points_match_references(tmp_path):
    names = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (400,), generator=generator)
    probs = (torch.randn(400, 7, generator=generator) + 2 * torch.nn.functional.one_hot(labels, 7)).softmax(1)
    metrics = compute_metrics(probs, labels, names, "test/")
    assert plot_reliability(probs.numpy(), labels.numpy(), tmp_path / "r.png") == pytest.approx(
        metrics["test/ece"], abs=1e-5
    )
    assert (tmp_path / "r.png").stat().st_size > 0
    fpr, tpr, _ = roc_curve(labels == 4, probs[:, 4])
    for spec in (80, 90, 95):
        assert metrics[f"test/sensitivity_at_{spec}spec_mel"] == pytest.approx(
            tpr[1 - fpr >= spec / 100].max(), abs=1e-5
        )
    binary = classification_metrics(["benign", "malignant"], "val/")
    assert "sensitivity_at_95spec_malignant" in binary


def test_benchmark_prints_the_table_and_refuses_an_unknown_backbone(capsys):
    from skinlight.evaluation import benchmark

    benchmark.main(
        [
            "timm_test",
            "mobilenetv3_small",
            "--image-size",
            "32",
            "--batch-sizes",
            "1",
            "2",
            "--repeats",
            "1",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("backbone"))
    assert header.split()[:3] == ["backbone", "timm", "model"] and "img/s (batch 2)" in header
    table = benchmark.benchmark(["timm_test"], image_size=32, batch_sizes=(1,), repeats=1, device="cpu")
    model = benchmark.build("timm_test")
    assert table["params (M)"][0] == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6)
    assert table["GFLOPs"][0] > 0 and table["img/s (batch 1)"][0] > 0
    assert re.match(
        "error: backbone=nosuchnet: no .*nosuchnet.yaml; options: .*resnet50",
        user_error(capsys, benchmark.main, ["nosuchnet"]),
    )


def test_wandb_runs_of_a_sweep_share_the_sweep_directory_as_group(tmp_path):
    from hydra.types import RunMode

    from skinlight.loggers import wandb_logger

    _compose("train", ["hydra.mode=MULTIRUN", f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert HydraConfig.get().mode == RunMode.MULTIRUN
    logger = wandb_logger(offline=True, save_dir=str(tmp_path), project="skinlight")
    assert logger._wandb_init["group"] == str(tmp_path / "sweep")


def test_mlflow_runs_of_a_sweep_are_tagged_with_the_sweep_directory(tmp_path):
    from skinlight.loggers import mlflow_logger

    _compose("train", ["hydra.mode=MULTIRUN", f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    logger = mlflow_logger(tracking_uri=f"sqlite:///{tmp_path}/store/mlflow.db", experiment_name="skinlight")
    assert logger.tags["group"] == str(tmp_path / "sweep")
    assert logger.tags["run_dir"] == HydraConfig.get().runtime.output_dir
    assert (tmp_path / "store").is_dir()  # sqlite makes the database file, skinlight its folder


@pytest.mark.slow
def test_three_fold_sweep_then_ensemble_with_tta_prints_table_vii(synthetic_root, tmp_path):
    """The acceptance path as a user types it: train.py -m over 3 folds, then eval.py on the sweep directory."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    data = [
        "data=ham10000",
        f"data.root={synthetic_root}",
        "data.num_workers=0",
        "data.image_size=32",
        "data.num_folds=3",
    ]
    subprocess.run(
        [
            sys.executable,
            "train.py",
            "-m",
            *data,
            "data.fold=0,1,2",
            "backbone=timm_test",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "callbacks.progress_bar=null",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=900,
    )
    assert pd.read_csv(tmp_path / "sweep" / "summary.csv").status.tolist() == ["ok"] * 3
    result = subprocess.run(
        [
            sys.executable,
            "eval.py",
            f"ensemble={tmp_path / 'sweep'}",
            "tta=d4",
            *data,
            f"hydra.run.dir={tmp_path / 'eval'}",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = result.stdout.splitlines()  # the log lines, then the table
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert lines[start].split() == ["model", *TABLE_METRICS]
    assert [line.split("  ")[0] for line in lines[start + 2 : start + 7]] == [
        "data.fold=0",
        "data.fold=1",
        "data.fold=2",
        "ensemble",
        "ensemble + TTA (d4)",
    ]
    table = pd.read_csv(tmp_path / "eval" / "table.csv")
    assert table[list(TABLE_METRICS)].notna().all().all()
