"""Trivial baselines on a run's own split: what a CNN must beat to mean anything.

    skinlight-baselines outputs/<date>/<time>        (or python -m skinlight.evaluation.baselines)

reads the run's split.csv and its data.root (from .hydra/config.yaml) and scores, on the test
split, (1) the majority class of the train split and (2) a logistic regression on each image's
mean RGB colour, fitted on the train split. Prints a table next to the run's own test metrics
and writes report/baselines.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tabulate import tabulate

from skinlight.data.layouts.files import index_images
from skinlight.data.layouts.images import load_rgb
from skinlight.errors import DataError, exit_on_user_error
from skinlight.rundir import RunDir, write_json

MEAN_RGB_DECODE_SIZE = 64  # mean colour barely depends on resolution; draft decoding is fast


def mean_rgb(paths) -> np.ndarray:
    """(N, 3) mean colour of each image, in [0, 1]."""
    return np.stack([load_rgb(p, MEAN_RGB_DECODE_SIZE).reshape(-1, 3).mean(0) / 255 for p in paths])


def _scores(y_true, y_pred) -> dict:
    return {
        "balanced_acc": float(balanced_accuracy_score(y_true, y_pred)),
        "acc": float(accuracy_score(y_true, y_pred)),
    }


def run_baselines(run_dir: str | Path) -> dict:
    """Majority-class and mean-RGB logistic-regression scores on the test split of `run_dir`."""
    run = RunDir(run_dir)
    split_csv, config = run.split, run.config
    for f in (split_csv, config):
        if not f.is_file():
            raise DataError(f"{f} not found: {run.path} is not a finished training run directory")
    split = pd.read_csv(split_csv)
    root = Path(OmegaConf.load(config).data.root)
    paths = index_images(root, split.image_id)
    missing = sorted(set(split.image_id) - set(paths))
    if missing:
        raise DataError(f"{len(missing)} image(s) of {split_csv} not found under {root}: {missing[:5]}")
    train, test = split[split.split == "train"], split[split.split == "test"]
    majority = train.label.mode()[0]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    model.fit(mean_rgb([paths[i] for i in train.image_id]), train.label)
    pred = model.predict(mean_rgb([paths[i] for i in test.image_id]))
    return {
        "majority_class": _scores(test.label, np.full(len(test), majority)),
        "mean_rgb_logreg": _scores(test.label, pred),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="skinlight-baselines", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", help="a training run directory (holds split.csv and .hydra/)")
    run = RunDir(parser.parse_args(argv).run_dir)
    with exit_on_user_error():
        results = run_baselines(run.path)
    metrics = run.read_metrics()
    if metrics:
        results["this_run"] = {k: metrics[f"test/{k}"] for k in ("balanced_acc", "acc")}
    write_json(run.report / "baselines.json", results)
    rows = [[name, r["balanced_acc"], r["acc"]] for name, r in results.items()]
    print(tabulate(rows, headers=["test split", "balanced_acc", "acc"], floatfmt=".4f"))


if __name__ == "__main__":
    main()
