"""evaluate(cfg, out_dir): the function behind `python eval.py` (see conf/eval.yaml).

Segmentation checkpoints go to skinlight.evaluation.segmentation (its own table); for classification, one
checkpoint or an ensemble (a k-fold sweep directory or a list of checkpoints) is evaluated on
a split of `data`, optionally with test-time augmentation (conf/tta/: flips, d4, multicrop = ordered
crops of the network input at several scales) and temperature scaling (calibrate=true: one T fitted on
the val split's probabilities of the last row, skinlight.inference.calibration). An ensemble may also be a
list of runs' predictions.csv files (skinlight.evaluation.recorded: models whose checkpoints are gone; no TTA
or calibration then, and no subgroups: the files hold no metadata). The run directory gets
  metrics.json      the last row of the table (the ensemble + TTA when there is one), <split>/<metric>,
                    with lesion-bootstrap intervals of the headline metrics (<metric>_ci_low/_ci_high, see
                    skinlight.metrics.bootstrap); with calibrate=true also <split>/temperature and
                    <split>/ece_uncalibrated
  table.csv/.md     the Table VII layout and ece: one row per member, the ensemble, the ensemble + TTA,
                    with calibrate=true a last row "<that row> + temperature (T=...)"
  predictions.csv   image_id, lesion_id, path, label and the last row's class probabilities and prediction
  isic2018_task3_submission.csv, isic2018_task3_groundtruth.csv
                    the last row's probabilities and the labels in the ISIC 2018 Task 3 layout, for the
                    official scorer (skinlight.inference.submission; HAM10000's seven classes only)
  report/           confusion matrix, ROC curves, reliability, per-class table and subgroups.csv/.png of the
                    last row
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tabulate import tabulate

from skinlight.checkpoints import read_checkpoint
from skinlight.data.sources import OUTSIDE
from skinlight.devices import device_of
from skinlight.errors import ConfigError
from skinlight.evaluation.data import datamodule_for
from skinlight.evaluation.recorded import is_recorded, recorded_probs
from skinlight.evaluation.segmentation import evaluate_segmenters
from skinlight.inference.calibration import apply_temperature, fit_temperature, nll
from skinlight.inference.ensemble import combine, find_members, load_classifier
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.submission import write_submission
from skinlight.inference.tta import build_views, predict_probs
from skinlight.metrics.bootstrap import Bootstrap, classification_intervals
from skinlight.metrics.classification import TABLE_METRICS as TABLE_VII_METRICS
from skinlight.metrics.classification import classification_metrics
from skinlight.models.segmenter import Segmenter
from skinlight.reports.classification import write_classification_outputs
from skinlight.rundir import RunDir

log = logging.getLogger(__name__)
SPLITS = ("test", "val", "train")  # train: the training images without augmentation (the papers' training accuracy)
TABLE_METRICS = (*TABLE_VII_METRICS[:-1], "ece", TABLE_VII_METRICS[-1])  # table.md's columns, balanced accuracy last


def compute_metrics(probs: torch.Tensor, labels: torch.Tensor, class_names, prefix: str) -> dict[str, float]:
    """metrics.json's metrics (skinlight.metrics.classification) of (N, C) probabilities."""
    metrics = classification_metrics(class_names, prefix)
    metrics.update(probs, labels)
    return {k: float(v) for k, v in sorted(metrics.compute().items())}


def table_rows(probs: torch.Tensor, names: list[str], tta: str, how: str) -> dict[str, torch.Tensor]:
    """The table's rows of (members, views, N, C) probabilities: each member, the ensemble, + TTA (`tta`)."""
    rows = {name: probs[i, 0] for i, name in enumerate(names)}
    suffix = f" + TTA ({tta})"
    if len(names) > 1:
        rows["ensemble"] = combine(probs[:, 0], how)
        if probs.shape[1] > 1:
            rows["ensemble" + suffix] = combine(probs.mean(1), how)
    elif probs.shape[1] > 1:
        rows[names[0] + suffix] = probs[0].mean(0)
    return rows


def calibration_rows(datamodule, previous: pd.DataFrame | None, ckpt) -> pd.DataFrame:
    """The val images the temperature is fitted on (calibrate=true): some, and the same for every member."""
    rows = datamodule.table[datamodule.table.split == "val"]
    if rows.empty:
        raise ConfigError(
            "calibrate=true fits the temperature on the val split, but the data has no val images "
            f"({datamodule.describe()}): set calibrate=false"
        )
    if previous is not None and list(rows.image_id) != list(previous.image_id):
        raise ConfigError(
            f"calibrate=true: {ckpt} has other val images than the first member (k-fold members validate on "
            "folds the others trained on): calibrate one checkpoint, or an ensemble that shares its val split"
        )
    return rows


def add_temperature_row(results: dict[str, torch.Tensor], val_probs: torch.Tensor, val_labels: torch.Tensor) -> float:
    """Append the last row scaled by the temperature fitted on its val probabilities `val_probs`; return T."""
    final = list(results)[-1]
    temperature = fit_temperature(val_probs, val_labels)
    calibrated = apply_temperature(val_probs, temperature)
    log.info(
        "temperature T=%.3f fitted on %d val images: val NLL %.4f -> %.4f",
        temperature,
        len(val_labels),
        nll(val_probs, val_labels),
        nll(calibrated, val_labels),
    )
    results[f"{final} + temperature (T={temperature:.2f})"] = apply_temperature(results[final], temperature)
    return temperature


def predict_members(cfg: DictConfig, members: list[tuple[str, Path]]):
    """(members, views, N, C) probabilities of checkpoints on `cfg.split`, their rows, labels and classes, and
    with calibrate=true the same of the val split (else None, None)."""
    views = build_views(cfg.tta.views, cfg.tta.get("crops"))
    device = device_of(cfg.device)
    probs, rows, val_probs, val_rows, outside = [], None, [], None, []
    for name, ckpt in members:
        model = load_classifier(ckpt).to(device)
        datamodule = datamodule_for(cfg, model, ckpt, cfg.split)  # each member's own data config (fold, encoding)
        member_rows = datamodule.table[(datamodule.table.split == cfg.split) & (datamodule.table.label >= 0)]
        if rows is not None and list(member_rows.image_id) != list(rows.image_id):
            raise ConfigError(
                f"{ckpt} would be evaluated on other {cfg.split} images than {members[0][1]}: an "
                "ensemble's members must share the split (e.g. folds of one k-fold split, split=test)"
            )
        rows = member_rows
        val_rows = calibration_rows(datamodule, val_rows, ckpt) if cfg.calibrate else None
        loader = datamodule.split_dataloader(cfg.split)
        probs.append(predict_probs(model, loader, views, description=name))
        if cfg.split == "test" and OUTSIDE in datamodule.datasets:  # classes the model cannot predict
            outside.append(predict_probs(model, datamodule.split_dataloader(OUTSIDE), views, description=name))
        if cfg.calibrate:  # the same views of the val images
            val_probs.append(predict_probs(model, datamodule.split_dataloader("val"), views, description=f"{name} val"))
        log.info("%s: %s", name, ckpt)
    labels = torch.tensor(rows.label.to_numpy())
    val = (torch.stack(val_probs), torch.tensor(val_rows.label.to_numpy())) if cfg.calibrate else (None, None)
    transfer = (
        Transfer(datamodule, torch.stack(outside) if outside else None)
        if hasattr(datamodule, "class_mapping")
        else None
    )
    return torch.stack(probs), rows, labels, list(datamodule.classes), *val, transfer


@dataclass
class Transfer:
    """A data=<source> split seen by a model: how its diagnoses reach the model's classes, and the probabilities
    (members, views, N, C) of its test images whose class the model lacks (None: there are none)."""

    datamodule: object
    outside: torch.Tensor | None

    def report(self, out_dir: Path, names: list[str], cfg: DictConfig, classes, prefix: str) -> dict[str, float]:
        """class_mapping.csv and outside_classes.csv (what the model called each class it lacks), printed;
        returns <split>/outside_images and <split>/seen_in_training (images left out as trained on)."""
        mapping = self.datamodule.class_mapping(cfg.split)
        mapping.to_csv(out_dir / "class_mapping.csv", index=False)
        print(f"class mapping of the {cfg.split} images ({self.datamodule.source} -> the model's classes):")
        print(tabulate(mapping, headers="keys", showindex=False))
        seen = {prefix + "seen_in_training": float(self.datamodule.seen_count)}
        print(f"{self.datamodule.seen_count} {cfg.split} image(s) the model trained or validated on left out (same id)")
        if self.outside is None:
            return {prefix + "outside_images": 0.0, **seen}
        probs = list(table_rows(self.outside, names, cfg.tta.name, cfg.combine).values())[-1]
        rows = self.datamodule.outside
        predicted = pd.Categorical([classes[i] for i in probs.argmax(1).tolist()], categories=classes)
        shares = pd.crosstab(rows["common"].to_numpy(), predicted, normalize="index", dropna=False)
        table = shares.rename_axis("class").reset_index()
        table.insert(1, "images", rows["common"].value_counts().reindex(table["class"]).to_numpy())
        table.to_csv(out_dir / "outside_classes.csv", index=False)
        print("test images of classes the model cannot predict (share predicted as each of its classes):")
        print(tabulate(table, headers="keys", showindex=False, floatfmt=".3f"))
        return {prefix + "outside_images": float(len(rows)), **seen}


def recorded_members(cfg: DictConfig, members: list[tuple[str, Path]]):
    """predict_members' outputs for prediction files (skinlight.evaluation.recorded): they hold their own views."""
    if cfg.tta.name != "none" or cfg.calibrate:
        raise ConfigError(
            "ensemble=[...predictions.csv] combines probabilities already recorded: tta= and calibrate=true act on "
            "checkpoints (evaluate each with eval.py ckpt_path=... tta=... and ensemble their predictions.csv)"
        )
    return *recorded_probs(members), None, None, None


def evaluate(cfg: DictConfig, out_dir: str | Path) -> pd.DataFrame:
    """Evaluate the checkpoint(s) or prediction files of `cfg` on `cfg.split`; write the run directory; return
    the table."""
    out_dir = Path(out_dir)
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r}: choose one of {list(SPLITS)}")
    if cfg.calibrate and cfg.split == "val":
        raise ConfigError("calibrate=true fits the temperature on the val images: evaluate split=test (or train)")
    ensemble = OmegaConf.to_container(cfg.ensemble) if OmegaConf.is_config(cfg.ensemble) else cfg.ensemble
    members = find_members(cfg.ckpt_path, ensemble, cfg.checkpoint)
    recorded = is_recorded(members)
    if not recorded and read_checkpoint(members[0][1])[0] == Segmenter.TASK:
        return evaluate_segmenters(cfg, out_dir, members)
    if PostProcess.from_config(cfg.get("postprocess")).active:
        raise ConfigError(f"postprocess={cfg.postprocess.name} cleans masks: a classification checkpoint takes none")
    bootstrap = Bootstrap.from_config(cfg.get("intervals"))
    probs, rows, labels, classes, val_probs, val_labels, transfer = (recorded_members if recorded else predict_members)(
        cfg, members
    )
    prefix = f"{cfg.split}/"
    names = [name for name, _ in members]
    results = table_rows(probs, names, cfg.tta.name, cfg.combine)
    if cfg.calibrate:  # fitted on the val probabilities of the last row (members, views, combination alike)
        val_final = list(table_rows(val_probs, names, cfg.tta.name, cfg.combine).values())[-1]
        temperature = add_temperature_row(results, val_final, val_labels)
    metrics = {name: compute_metrics(p, labels, classes, prefix) for name, p in results.items()}
    if cfg.calibrate:
        uncalibrated, calibrated = list(results)[-2:]
        metrics[calibrated] |= {
            prefix + "temperature": temperature,
            prefix + "ece_uncalibrated": metrics[uncalibrated][prefix + "ece"],
        }
    table = pd.DataFrame(
        [{"model": name, **{m: metrics[name].get(prefix + m, float("nan")) for m in TABLE_METRICS}} for name in results]
    )
    final, final_probs = list(results)[-1], list(results.values())[-1]
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    metrics[final] |= classification_intervals(
        bootstrap, final_probs.numpy(), labels.numpy(), rows.lesion_id, classes, prefix
    )
    if transfer is not None:
        metrics[final] |= transfer.report(out_dir, names, cfg, classes, prefix)
    RunDir(out_dir).write_metrics(metrics[final])
    write_submission(out_dir, rows.image_id.tolist(), final_probs.numpy(), classes, labels.numpy())
    write_classification_outputs(
        RunDir(out_dir), rows, final_probs.numpy(), labels.numpy(), classes, metrics[final], bootstrap, prefix
    )
    print(tabulate(table, headers="keys", showindex=False, floatfmt=".4f"))
    log.info("%s: %s=%.4f -> %s", final, prefix + "balanced_acc", metrics[final][prefix + "balanced_acc"], out_dir)
    return table
