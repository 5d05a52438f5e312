"""evaluate(cfg, out_dir): the function behind `python eval.py` (see conf/eval.yaml).

One checkpoint or an ensemble (a k-fold sweep directory or a list of checkpoints) is evaluated on
a split of `data`, optionally with test-time augmentation. The run directory gets
  metrics.json      the last row of the table (the ensemble + TTA when there is one), <split>/<metric>
  table.csv/.md     the Table VII layout: one row per member, the ensemble, the ensemble + TTA
  predictions.csv   image_id, path, label and the last row's class probabilities and prediction
  report/           confusion matrix, ROC curves, per-class table of the last row
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from tabulate import tabulate

from skinlight.data.ham10000 import METADATA_CSV
from skinlight.data.metadata import MetadataEncoder
from skinlight.errors import ConfigError
from skinlight.evaluation.ensemble import combine, find_members, load_classifier
from skinlight.evaluation.report import write_classification_report
from skinlight.evaluation.tta import check_views, device_of, predict_probs
from skinlight.metrics import classification_metrics
from skinlight.train import build_datamodule

log = logging.getLogger(__name__)
SPLITS = ("test", "val")
TABLE_METRICS = ("acc", "precision_macro", "recall_macro", "f1_macro", "top2_acc", "top3_acc", "auroc_macro",
                 "balanced_acc")


def compute_metrics(probs: torch.Tensor, labels: torch.Tensor, class_names, prefix: str) -> dict[str, float]:
    """metrics.json's metrics (skinlight.metrics) of (N, C) probabilities."""
    metrics = classification_metrics(class_names, prefix)
    metrics.update(probs, labels)
    return {k: float(v) for k, v in sorted(metrics.compute().items())}


def training_age_stats(ckpt: Path) -> tuple[float, float]:
    """Mean and std of the ages of the checkpoint's training split (its run's split.csv and metadata CSV)."""
    run_dir = ckpt.parent.parent
    split_csv, config = run_dir / "split.csv", run_dir / ".hydra" / "config.yaml"
    csv_path = Path(OmegaConf.load(config).data.root) / METADATA_CSV if config.is_file() else None
    if not split_csv.is_file() or csv_path is None or not csv_path.is_file():
        raise ConfigError(f"{ckpt} fuses metadata, whose ages are standardised with its training split, but its run "
                          f"({run_dir}: split.csv, .hydra/config.yaml, the data's {METADATA_CSV}) is not at hand: "
                          "set data.age_mean and data.age_std")
    split = pd.read_csv(split_csv, dtype={"image_id": str})
    table = pd.read_csv(csv_path, dtype={"image_id": str})
    encoder = MetadataEncoder().fit(table[table.image_id.isin(split.image_id[split.split == "train"])])
    return encoder.age_mean, encoder.age_std


def datamodule_for(cfg: DictConfig, model, ckpt: Path):
    """The datamodule of `cfg.data` normalised for `model`'s backbone (train.build_datamodule), set up for testing."""
    hp = model.hparams
    merged = cfg.copy()
    with open_dict(merged):
        merged.update(backbone=hp.backbone, loss=hp.loss,
                      model={"_target_": f"{type(model).__module__}.{type(model).__qualname__}"})
        if model.fusion is not None and "age_mean" in merged.data and merged.data.age_mean is None:
            merged.data.age_mean, merged.data.age_std = training_age_stats(ckpt)
    datamodule = build_datamodule(merged)
    datamodule.prepare_data()
    datamodule.setup("test")
    if list(datamodule.classes) != list(hp.class_names):
        raise ConfigError(f"the checkpoint predicts {list(hp.class_names)} but the data has classes "
                          f"{list(datamodule.classes)}: choose the data options it was trained with")
    if model.fusion is not None and datamodule.meta_dim != hp.meta_dim:
        raise ConfigError(f"the checkpoint takes {hp.meta_dim} metadata features, the data gives "
                          f"{datamodule.meta_dim}: set data.use_metadata={str(hp.meta_dim > 0).lower()}")
    if not (datamodule.table.split == cfg.split).any():
        raise ConfigError(f"split={cfg.split}: the data has no {cfg.split} images ({datamodule.describe()}); "
                          f"choose split={'val' if cfg.split == 'test' else 'test'}")
    return datamodule


def _check_unseen(ckpt: Path, rows: pd.DataFrame, data_root: str) -> None:
    """Stop when evaluated images were in the member's train/val split (its run's split.csv, same data.root)."""
    split_csv, config = ckpt.parent.parent / "split.csv", ckpt.parent.parent / ".hydra" / "config.yaml"
    if not split_csv.is_file() or not config.is_file() or OmegaConf.load(config).data.get("root") != data_root:
        return
    seen = pd.read_csv(split_csv, dtype={"image_id": str})
    seen = set(seen.image_id[seen.split != "test"])
    leaked = sorted(set(rows.image_id) & seen)
    if leaked:
        raise ConfigError(f"{len(leaked)} evaluated image(s) were in the train/val split of {ckpt} ({split_csv}), "
                          f"e.g. {leaked[:3]}: evaluate with the data options it was trained with")


def evaluate(cfg: DictConfig, out_dir: str | Path) -> pd.DataFrame:
    """Evaluate the checkpoint(s) of `cfg` on `cfg.split`; write the run directory; return the table."""
    out_dir = Path(out_dir)
    if cfg.split not in SPLITS:
        raise ConfigError(f"split={cfg.split!r}: choose one of {list(SPLITS)}")
    views = check_views(cfg.tta.views)
    ensemble = OmegaConf.to_container(cfg.ensemble) if OmegaConf.is_config(cfg.ensemble) else cfg.ensemble
    members = find_members(cfg.ckpt_path, ensemble, cfg.checkpoint)
    device = device_of(cfg.device)
    probs, datamodules = [], {}
    for name, ckpt in members:
        model = load_classifier(ckpt).to(device)
        # members of one backbone share the data; metadata models each standardise ages with their training split
        key = json.dumps([model.hparams.backbone, str(ckpt) if model.fusion is not None else ""], sort_keys=True)
        if key not in datamodules:
            datamodules[key] = datamodule_for(cfg, model, ckpt)
        datamodule = datamodules[key]
        rows = datamodule.table[datamodule.table.split == cfg.split]
        _check_unseen(ckpt, rows, cfg.data.root)
        loader = getattr(datamodule, f"{cfg.split}_dataloader")()
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
    table = pd.DataFrame([{"model": name, **{m: metrics[name].get(prefix + m, float("nan")) for m in TABLE_METRICS}}
                          for name in results])
    final, final_probs = list(results)[-1], list(results.values())[-1]
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics[final], indent=2) + "\n")
    predictions = rows[["image_id", "path"]].assign(label=[classes[i] for i in labels])
    predictions[classes] = final_probs.numpy()
    predictions["prediction"] = [classes[i] for i in final_probs.argmax(1)]
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    write_classification_report(out_dir / "report", final_probs.numpy(), labels.numpy(), classes, metrics[final],
                                prefix)
    print(tabulate(table, headers="keys", showindex=False, floatfmt=".4f"))
    log.info("%s: %s=%.4f -> %s", final, prefix + "balanced_acc", metrics[final][prefix + "balanced_acc"], out_dir)
    return table
