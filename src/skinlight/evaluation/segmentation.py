"""evaluate_segmenters: eval.py for segmentation checkpoints, in the layout of the classification table.

Rows: each member (its plain masks), the ensemble (the mean of the members' probabilities, with more than one
member), then with `tta` other than none the last row + TTA (each view mapped back before averaging), then with
`postprocess` other than none the last row + post-processing. Every mask is scored at its image's own size (the
probabilities resized back, then thresholded: a member at its checkpoint's threshold, the ensemble at the mean of
its members'), by skinlight.metrics.segmentation.MaskScores. The run directory gets
  table.csv/.md       one row per line above: thresholded Jaccard, Dice, IoU, HD95, ASD (pixels), recall,
                      specificity and the number of empty predicted masks
  metrics.json        the last row's <split>/<score>, with lesion-bootstrap intervals of the headline scores
  report/per_image.csv  the last row's per-image scores (image_id, lesion_id, scores)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig
from tabulate import tabulate

from skinlight.checkpoints import load_checkpoint
from skinlight.data.layouts.images import read_mask
from skinlight.data.transforms import restore_size
from skinlight.devices import device_of
from skinlight.errors import ConfigError
from skinlight.evaluation.data import datamodule_for
from skinlight.inference.postprocess import PostProcess
from skinlight.inference.tta import mask_views
from skinlight.metrics.bootstrap import Bootstrap, segmentation_intervals
from skinlight.metrics.segmentation import MaskScores
from skinlight.models.segmenter import Segmenter, view_probs
from skinlight.rundir import RunDir

log = logging.getLogger(__name__)
TABLE_SCORES = ("thresholded_jaccard", "dice", "iou", "hd95", "asd", "recall", "specificity", "empty_predictions")


@dataclass(frozen=True)
class Row:
    """One line of the table: the mean probability of `members` (indices), with TTA or not, post-processed or not."""

    name: str
    members: tuple[int, ...]
    tta: bool = False
    postprocess: bool = False


def table_rows(names: list[str], tta: str, postprocess: PostProcess) -> list[Row]:
    rows = [Row(name, (i,)) for i, name in enumerate(names)]
    if len(names) > 1:
        rows.append(Row("ensemble", tuple(range(len(names)))))
    if tta != "none":
        rows.append(Row(f"{rows[-1].name} + TTA ({tta})", rows[-1].members, tta=True))
    if postprocess.active:
        last = rows[-1]
        rows.append(Row(f"{last.name} + {postprocess.name}", last.members, last.tta, postprocess=True))
    return rows


def check_options(cfg: DictConfig) -> None:
    """Classification-only eval options stop here."""
    if cfg.calibrate:
        raise ConfigError("calibrate=true scales class probabilities: a segmentation checkpoint takes calibrate=false")
    if cfg.combine != "mean":
        raise ConfigError(f"combine={cfg.combine}: a segmentation ensemble averages its probabilities (combine=mean)")


def load_members(members: list[tuple[str, Path]], device) -> list[Segmenter]:
    """The members' Segmenters on `device`; they must share the input size and resize policy (one batch feeds all)."""
    models = [load_checkpoint(ckpt, task=Segmenter.TASK).to(device) for _, ckpt in members]
    first = models[0].hparams
    for model, (_, ckpt) in zip(models[1:], members[1:]):
        hp = model.hparams
        if (hp.image_size, hp.resize, hp.get("preprocess")) != (
            first.image_size,
            first.resize,
            first.get("preprocess"),
        ):
            raise ConfigError(
                f"{ckpt} takes its input at {hp.image_size} px ({hp.resize}) but {members[0][1]} at "
                f"{first.image_size} px ({first.resize}), or another preprocessing: an ensemble's members share one"
            )
    return models


def evaluate_segmenters(cfg: DictConfig, out_dir: Path, members: list[tuple[str, Path]]) -> pd.DataFrame:
    """Evaluate segmentation checkpoints on `cfg.split`; write the run directory; return the table."""
    check_options(cfg)
    views = mask_views(cfg.tta.views, cfg.tta.get("crops"))
    postprocess = PostProcess.from_config(cfg.get("postprocess"))
    bootstrap = Bootstrap.from_config(cfg.get("intervals"))
    models = load_members(members, device_of(cfg.device))
    rows = None
    for model, (_, ckpt) in zip(models, members):
        datamodule = datamodule_for(cfg, model, ckpt, cfg.split)
        member_rows = datamodule.table[datamodule.table.split == cfg.split]
        if rows is not None and list(member_rows.image_id) != list(rows.image_id):
            raise ConfigError(
                f"{ckpt} would be evaluated on other {cfg.split} images than {members[0][1]}: an ensemble's "
                "members must share the split (e.g. folds of one k-fold split, split=test)"
            )
        rows, loader = member_rows, datamodule.split_dataloader(cfg.split)
    table_spec = table_rows([name for name, _ in members], cfg.tta.name, postprocess)
    scores = {row.name: MaskScores() for row in table_spec}
    thresholds = [float(m.hparams.threshold) for m in models]
    hp, image_ids = models[0].hparams, []
    with torch.no_grad():
        for batch in loader:
            image_ids += list(batch["image_id"])
            image = batch["image"].to(models[0].device)
            plain = [view_probs(m, image) for m in models]
            tta = [view_probs(m, image, views) for m in models] if cfg.tta.name != "none" else plain
            for k, mask_path in enumerate(batch["mask_path"]):
                truth = torch.from_numpy(read_mask(mask_path) > 0)
                for row in table_spec:
                    prob = torch.stack([(tta if row.tta else plain)[i][k] for i in row.members]).mean(0)
                    full = restore_size(prob.float(), truth.shape, truth.shape, hp.image_size, hp.resize)[0]
                    threshold = sum(thresholds[i] for i in row.members) / len(row.members)
                    mask = (full >= threshold).cpu().numpy()
                    scores[row.name].update(torch.from_numpy(postprocess(mask) if row.postprocess else mask), truth)
    prefix, final = f"{cfg.split}/", table_spec[-1].name
    results = {name: {k: float(v) for k, v in metric.compute().items()} for name, metric in scores.items()}
    table = pd.DataFrame([{"model": name, **{k: results[name][k] for k in TABLE_SCORES}} for name in results])
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "table.csv", index=False)
    (out_dir / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    per_image = {k: v.numpy() for k, v in scores[final].per_image().items()}
    lesions = rows.set_index("image_id").loc[image_ids, "lesion_id"]
    metrics = {prefix + k: v for k, v in results[final].items()}
    metrics |= segmentation_intervals(bootstrap, per_image, lesions, prefix)
    run = RunDir(out_dir)
    run.write_metrics(metrics)
    run.report.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"image_id": image_ids, "lesion_id": lesions.to_numpy(), **per_image})
    frame.to_csv(run.report / "per_image.csv", index=False, float_format="%.6f")
    print(tabulate(table, headers="keys", showindex=False, floatfmt=".4f"))
    log.info(
        "%s: %s=%.4f -> %s", final, prefix + "thresholded_jaccard", metrics[prefix + "thresholded_jaccard"], out_dir
    )
    return table
