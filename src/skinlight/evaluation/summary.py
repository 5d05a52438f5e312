"""summary.csv / summary.md of a sweep directory: one row per job, its overrides and test metrics.

Rebuilt after every job (a Hydra callback), so the table is there while the sweep runs and
after a job fails: a job without metrics.json is listed with status "no metrics". Per-class
columns on request (`per_class`: e.g. recall, precision -> recall_mel, ..., precision_nv), as the
papers' per-class tables.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode

from skinlight.errors import ConfigError, DataError, exit_on_user_error
from skinlight.metrics.classification import TABLE_METRICS
from skinlight.metrics.segmentation import SCORES
from skinlight.reports.classification import PER_CLASS_METRICS
from skinlight.rundir import RunDir, sweep_jobs

log = logging.getLogger(__name__)
# Balanced accuracy first, then the rest of eval.py's table, calibration, and the segmentation scores.
HEADLINE_METRICS = ("balanced_acc", *TABLE_METRICS[:-1], "ece", *SCORES)


def _job_row(job: RunDir, per_class=()) -> dict:
    row = {"job": job.name, **job.read_overrides()}
    metrics = job.read_metrics()
    if metrics is not None:
        row["status"] = "ok"
        row.update({m: metrics[f"test/{m}"] for m in HEADLINE_METRICS if f"test/{m}" in metrics})
        for m in per_class:  # metrics.json order: the classes in the model's order
            row.update(
                {
                    k[len("test/") :]: v
                    for k, v in metrics.items()
                    if k.startswith(f"test/{m}_") and k != f"test/{m}_macro"
                }
            )
    else:
        row["status"] = "no metrics"
    return row


def summarize(sweep_dir: str | Path, sort: str | None = None, metrics=None, per_class=()) -> pd.DataFrame:
    """Write summary.csv and summary.md for the jobs under `sweep_dir`; return the table.

    Override columns are the keys whose value differs between jobs (all keys for a single job);
    `metrics` picks the metric columns (default: every headline metric found), `sort` a metric to
    order the jobs by, highest first (jobs without it last); `per_class` adds `<metric>_<class>`
    columns for those of PER_CLASS_METRICS.
    """
    unknown = [m for m in per_class if m not in PER_CLASS_METRICS]
    if unknown:
        raise ConfigError(f"--per-class {','.join(unknown)}: choose among {','.join(PER_CLASS_METRICS)}")
    sweep_dir = Path(sweep_dir)
    jobs = sweep_jobs(sweep_dir)
    table = pd.DataFrame([_job_row(job, per_class) for job in jobs])
    if table.empty:
        return table
    classwise = [
        c for c in table.columns if c not in HEADLINE_METRICS and any(c.startswith(f"{m}_") for m in per_class)
    ]
    found = [m for m in HEADLINE_METRICS if m in table] + classwise
    keys = [c for c in table.columns if c not in ("job", "status", *found)]
    varying = [k for k in keys if len(jobs) == 1 or table[k].astype(str).nunique() > 1]
    chosen = [m for m in (metrics or found) if m in table]
    if sort is not None:
        if sort not in table:
            raise ValueError(f"cannot sort by {sort!r}: no job has it; metrics found: {found}")
        table = table.sort_values(sort, ascending=False, na_position="last", kind="stable")
        chosen = chosen if sort in chosen else [sort, *chosen]
    table = table[["job", *varying, "status", *chosen]]
    table.to_csv(sweep_dir / "summary.csv", index=False)
    (sweep_dir / "summary.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    return table


class SweepSummaryCallback(Callback):
    """Hydra callback: rebuild the sweep summary whenever a multirun job ends."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            summarize(HydraConfig.get().sweep.dir)

    def on_multirun_end(self, config, **kwargs) -> None:
        table = summarize(config.hydra.sweep.dir)
        log.info("sweep summary: %s/summary.md (%d jobs)", config.hydra.sweep.dir, len(table))


def main(argv=None) -> None:
    """`skinlight-summary SWEEP_DIR [--sort METRIC] [--metrics M ...] [--per-class recall,precision,...]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="skinlight-summary", description="(Re)build summary.csv / summary.md of a multirun directory."
    )
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun directory (its jobs hold .hydra/)")
    parser.add_argument("--sort", metavar="METRIC", help="sort the jobs by this metric, best (highest) first")
    parser.add_argument(
        "--metrics",
        nargs="+",
        metavar="METRIC",
        choices=HEADLINE_METRICS,
        help=f"metric columns to keep (default: all found among {', '.join(HEADLINE_METRICS)})",
    )
    parser.add_argument(
        "--per-class",
        metavar="M,M",
        default="",
        help=f"add one column per class for each of these metrics ({','.join(PER_CLASS_METRICS)})",
    )
    args = parser.parse_args(argv)
    with exit_on_user_error():
        if not args.sweep_dir.is_dir():
            raise DataError(f"{args.sweep_dir} is not a directory")
        try:
            per_class = [m.strip() for m in args.per_class.split(",") if m.strip()]
            table = summarize(args.sweep_dir, sort=args.sort, metrics=args.metrics, per_class=per_class)
        except ValueError as e:  # summarize's refusal of a --sort metric that no job has
            raise ConfigError(f"--sort: {e}") from None
        if table.empty:
            raise DataError(f"no job folders (with .hydra/overrides.yaml) in {args.sweep_dir}")
    print(table.to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
