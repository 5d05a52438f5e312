"""evaluate(cfg, out_dir): the function behind `python eval.py` (see conf/eval.yaml).

One checkpoint or an ensemble (a k-fold sweep directory or a list of checkpoints) is evaluated on
a split of `data`, optionally with test-time augmentation. The run directory gets
  metrics.json      the last row of the table (the ensemble + TTA when there is one), <split>/<metric>
  table.csv/.md     the Table VII layout: one row per member, the ensemble, the ensemble + TTA
  predictions.csv   image_id, path, label and the last row's class probabilities and prediction
  report/           confusion matrix, ROC curves, per-class table of the last row
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tabulate import tabulate

from skinlight.devices import device_of
from skinlight.errors import ConfigError
from skinlight.evaluation.data import datamodule_for
from skinlight.inference.ensemble import combine, find_members, load_classifier
from skinlight.inference.tta import check_views, predict_probs
from skinlight.metrics.classification import TABLE_METRICS, classification_metrics
from skinlight.reports.classification import write_classification_report
from skinlight.rundir import RunDir

log = logging.getLogger(__name__)
SPLITS = ("test", "val", "train")  # train: the training images without augmentation (the papers' training accuracy)


def compute_metrics(probs: torch.Tensor, labels: torch.Tensor, class_names, prefix: str) -> dict[str, float]:
    """metrics.json's metrics (skinlight.metrics.classification) of (N, C) probabilities."""
    metrics = classification_metrics(class_names, prefix)
    metrics.update(probs, labels)
    return {k: float(v) for k, v in sorted(metrics.compute().items())}


def evaluate(cfg: DictConfig, out_dir: str | Path) -> pd.DataFrame:
    """Evaluate the checkpoint(s) of `cfg` on `cfg.split`; write the run directory; return the table."""
    out_dir = Path(out_dir)
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r}: choose one of {list(SPLITS)}")
    views = check_views(cfg.tta.views)
    ensemble = OmegaConf.to_container(cfg.ensemble) if OmegaConf.is_config(cfg.ensemble) else cfg.ensemble
    members = find_members(cfg.ckpt_path, ensemble, cfg.checkpoint)
    device = device_of(cfg.device)
    probs, rows = [], None
    for name, ckpt in members:
        model = load_classifier(ckpt).to(device)
        datamodule = datamodule_for(cfg, model, ckpt, cfg.split)  # each member's own data config (fold, encoding)
        member_rows = datamodule.table[datamodule.table.split == cfg.split]
        if rows is not None and list(member_rows.image_id) != list(rows.image_id):
            raise ConfigError(
                f"{ckpt} would be evaluated on other {cfg.split} images than {members[0][1]}: an "
                "ensemble's members must share the split (e.g. folds of one k-fold split, split=test)"
            )
        rows = member_rows
        loader = datamodule.split_dataloader(cfg.split)
        probs.append(predict_probs(model, loader, views, description=name))
        log.info("%s: %s", name, ckpt)
    probs = torch.stack(probs)  # (members, views, N, C)
    labels = torch.tensor(rows.label.to_numpy())
    classes, prefix = list(datamodule.classes), f"{cfg.split}/"
    results = {name: probs[i, 0] for i, (name, _) in enumerate(members)}
    tta = f" + TTA ({cfg.tta.name})"
    if len(members) > 1:
        results["ensemble"] = combine(probs[:, 0], cfg.combine)
        if len(views) > 1:
            results["ensemble" + tta] = combine(probs.mean(1), cfg.combine)
    elif len(views) > 1:
        results[members[0][0] + tta] = probs[0].mean(0)
    metrics = {name: compute_metrics(p, labels, classes, prefix) for name, p in results.items()}
    table = pd.DataFrame(
        [{"model": name, **{m: metrics[name].get(prefix + m, float("nan")) for m in TABLE_METRICS}} for name in results]
    )
    final, final_probs = list(results)[-1], list(results.values())[-1]
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    RunDir(out_dir).write_metrics(metrics[final])
    predictions = rows[["image_id", "path"]].assign(label=[classes[i] for i in labels])
    predictions[classes] = final_probs.numpy()
    predictions["prediction"] = [classes[i] for i in final_probs.argmax(1)]
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    write_classification_report(
        RunDir(out_dir).report, final_probs.numpy(), labels.numpy(), classes, metrics[final], prefix
    )
    print(tabulate(table, headers="keys", showindex=False, floatfmt=".4f"))
    log.info("%s: %s=%.4f -> %s", final, prefix + "balanced_acc", metrics[final][prefix + "balanced_acc"], out_dir)
    return table
