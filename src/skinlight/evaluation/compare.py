"""Paired comparison of two runs on the same test images: `python -m skinlight.evaluation.compare RUN_A RUN_B`.

A run is a training run directory or an eval.py folder: a classifier's predictions.csv (image_id,
lesion_id, label, one probability per class) or a segmenter's report/per_image.csv (image_id,
lesion_id, scores). For each headline metric (skinlight.metrics.bootstrap) it prints A, B, the
difference A - B, its 95 % interval from a paired bootstrap over lesions (both runs scored on the
same resampled lesions, so what the two share cancels) and a two-sided p-value, twice the share of
resamples on the far side of zero (p < 0.05 exactly when the 95 % interval excludes 0, to the
resolution of the resamples). Runs tested on other images, or with other labels for an image,
are refused in one line.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from skinlight.data.layouts.files import read_csv_table
from skinlight.errors import DataError, exit_on_user_error
from skinlight.metrics.bootstrap import SEGMENTATION_HEADLINE, Bootstrap, classification_samples, mean_samples
from skinlight.rundir import RunDir


@dataclass(frozen=True)
class TestedRun:
    """One run's per-image test outputs, indexed by image_id."""

    path: Path
    source: Path
    table: pd.DataFrame
    task: str
    classes: list[str]


def read_run(path: str | Path) -> TestedRun:
    """The per-image test outputs of a run or eval folder (predictions.csv or report/per_image.csv)."""
    run = RunDir(path)
    segmentation = run.report / "per_image.csv"
    if run.path.is_dir() and run.predictions.is_file():
        return read_predictions(run.predictions)
    if not run.path.is_dir() or not segmentation.is_file():
        raise DataError(
            f"{path}: neither {run.predictions.name} (a classifier's) nor report/per_image.csv (a segmenter's): "
            "give a run directory of train.py or an eval.py folder"
        )
    table = read_csv_table(
        segmentation, "per-image table", required=("image_id", "lesion_id"), id_columns=("image_id",)
    )
    missing = [s for s in SEGMENTATION_HEADLINE if s not in table]
    if missing:
        raise DataError(f"{segmentation}: no {', '.join(missing)} column(s)")
    table[list(SEGMENTATION_HEADLINE)] = numeric(table, list(SEGMENTATION_HEADLINE), segmentation)
    return TestedRun(run.path, segmentation, table.set_index("image_id"), "segmentation", [])


def read_predictions(source: Path) -> TestedRun:
    """A classifier's predictions.csv (image_id, lesion_id, label, one probability per class; path and prediction
    are optional), its run being the folder it lies in."""
    required = ("image_id", "lesion_id", "label")
    table = read_csv_table(source, "predictions table", required=required, id_columns=("image_id",))
    classes = [c for c in table.columns if c not in {*required, "path", "prediction"}]
    if not classes:
        raise DataError(f"{source}: no class probability columns (one per class, named by it)")
    table[classes] = numeric(table, classes, source)
    unknown = sorted(set(table.label) - set(classes))
    if unknown:
        raise DataError(f"{source}: label {unknown[0]!r} is not one of its class columns {classes}")
    return TestedRun(source.parent, source, table.set_index("image_id"), "classification", classes)


def numeric(table: pd.DataFrame, columns, source: Path) -> pd.DataFrame:
    """`columns` of `table` as numbers; a cell that is not one stops here, naming its line."""
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & table[columns].notna() | table[columns].isna()
    if bad.any(axis=None):
        line, column = next((i, c) for c in columns for i in table.index[bad[c]])
        raise DataError(f"{source}: line {line + 2}, column {column}: {table.at[line, column]!r} is not a number")
    return values


def paired(a: TestedRun, b: TestedRun) -> pd.Index:
    """The image ids both runs were tested on, after checking that they are the same images, lesions and labels."""
    if a.task != b.task or a.classes != b.classes:
        raise DataError(
            f"{a.path} ({a.task}{': ' + ','.join(a.classes) if a.classes else ''}) and {b.path} "
            f"({b.task}{': ' + ','.join(b.classes) if b.classes else ''}) do not predict the same things"
        )
    only_a, only_b = a.table.index.difference(b.table.index), b.table.index.difference(a.table.index)
    if len(only_a) or len(only_b):
        raise DataError(
            f"{a.path} and {b.path} were not tested on the same images ({len(only_a)} only in A, e.g. "
            f"{', '.join(only_a[:3]) or '-'}; {len(only_b)} only in B, e.g. {', '.join(only_b[:3]) or '-'}): "
            "compare runs of one split (the same data.split_seed and test fraction)"
        )
    ids = a.table.index
    for column in ("lesion_id", *(["label"] if a.task == "classification" else [])):
        differ = ids[a.table[column].astype(str).to_numpy() != b.table.loc[ids, column].astype(str).to_numpy()]
        if len(differ):
            raise DataError(f"{a.path} and {b.path} give image {differ[0]} another {column} ({len(differ)} image(s))")
    return ids


def samples(run: TestedRun, ids: pd.Index, weights: np.ndarray) -> dict[str, np.ndarray]:
    """The headline metrics of `run` on the images `ids` for each row of `weights`."""
    rows = run.table.loc[ids]
    if run.task == "segmentation":
        return mean_samples(weights, {k: rows[k].to_numpy(float) for k in SEGMENTATION_HEADLINE})
    labels = rows["label"].map({c: i for i, c in enumerate(run.classes)})  # read_predictions checked them
    return classification_samples(weights, rows[run.classes].to_numpy(float), labels.to_numpy(int), run.classes)


def compare(path_a, path_b, bootstrap: Bootstrap | None = None) -> pd.DataFrame:
    """One row per headline metric: a, b, difference (a - b), ci_low, ci_high, p, and the images and lesions."""
    bootstrap = bootstrap or Bootstrap(resamples=2000)
    a, b = read_run(path_a), read_run(path_b)
    ids = paired(a, b)
    groups = a.table.loc[ids, "lesion_id"].astype(str).to_numpy()
    point = np.ones((1, len(ids)))
    weights = bootstrap.weights(groups)
    point_a, point_b = samples(a, ids, point), samples(b, ids, point)
    resampled_a, resampled_b = samples(a, ids, weights), samples(b, ids, weights)
    rows = []
    for metric in point_a:
        diff = resampled_a[metric] - resampled_b[metric]
        diff = diff[~np.isnan(diff)]
        low, high = bootstrap.interval(diff)
        p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if len(diff) else float("nan")
        rows.append(
            {
                "metric": metric,
                "a": float(point_a[metric][0]),
                "b": float(point_b[metric][0]),
                "difference": float(point_a[metric][0] - point_b[metric][0]),
                "ci_low": low,
                "ci_high": high,
                "p": float(p),
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update(images=len(ids), lesions=len(set(groups)), bootstrap=bootstrap)
    return table


def main(argv=None) -> None:
    """`python -m skinlight.evaluation.compare RUN_A RUN_B [--resamples N] [--seed S] [--level L] [--csv FILE]`."""
    parser = argparse.ArgumentParser(
        prog="python -m skinlight.evaluation.compare",
        description="Paired lesion-bootstrap comparison of two runs tested on the same images.",
    )
    parser.add_argument("run_a", type=Path, help="a train.py run directory or eval.py folder")
    parser.add_argument("run_b", type=Path, help="another one, tested on the same images")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="interval coverage (default 0.95)")
    parser.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    if args.resamples < 1:
        parser.error("--resamples: give at least 1")
    with exit_on_user_error():
        table = compare(args.run_a, args.run_b, Bootstrap(args.resamples, args.level, args.seed))
        if args.csv:
            table.to_csv(args.csv, index=False)
    print(
        f"A = {args.run_a}\nB = {args.run_b}\n{table.attrs['images']} test images of {table.attrs['lesions']} "
        f"lesions; paired bootstrap over lesions, {args.resamples} resamples (seed {args.seed}), "
        f"{args.level:.0%} intervals"
    )
    shown = table.assign(
        interval=[f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(table.ci_low, table.ci_high)],
        significant=np.where(table.p < 1 - args.level, "yes", "no"),
    )[["metric", "a", "b", "difference", "interval", "p", "significant"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
