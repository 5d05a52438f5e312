"""summary.csv / summary.md of a sweep directory: one row per job, its overrides and test metrics.

Rebuilt after every job (a Hydra callback), so the table is there while the sweep runs and
after a job fails: a job without metrics.json is listed with status "no metrics". Per-class
columns on request (`per_class`: e.g. recall, precision -> recall_mel, ..., precision_nv), as the
papers' per-class tables. A metric with a lesion-bootstrap interval in metrics.json gets its
<metric>_ci_low / _ci_high columns in summary.csv and "value [low, high]" in summary.md.
Jobs that differ only in REPEAT_KEYS (seed, data.fold) are repeats of one configuration:
summary_repeats.csv and a section of summary.md give each configuration's mean +- standard
deviation over its finished repeats (the spread a difference between configurations has to exceed).
index.html shows the table in a browser, each job linking to its report/index.html.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode

from skinlight.errors import ConfigError, DataError, exit_on_user_error
from skinlight.metrics.bootstrap import INTERVAL_ENDS
from skinlight.metrics.classification import TABLE_METRICS
from skinlight.metrics.segmentation import SCORES
from skinlight.reports.classification import PER_CLASS_METRICS
from skinlight.reports.html import write_sweep_index
from skinlight.rundir import RunDir, sweep_jobs

log = logging.getLogger(__name__)
# Balanced accuracy first, then the rest of eval.py's table, calibration, and the segmentation scores.
HEADLINE_METRICS = ("balanced_acc", *TABLE_METRICS[:-1], "ece", *SCORES)
REPEAT_KEYS = ("seed", "data.fold")  # jobs differing only in these repeat one configuration


def _job_row(job: RunDir, per_class=()) -> dict:
    row = {"job": job.name, **job.read_overrides()}
    metrics = job.read_metrics()
    if metrics is not None:
        row["status"] = "ok"
        for m in HEADLINE_METRICS:
            row.update(
                {m + end: metrics[f"test/{m}{end}"] for end in ("", *INTERVAL_ENDS) if f"test/{m}{end}" in metrics}
            )
        for m in per_class:  # metrics.json order: the classes in the model's order
            row.update(
                {
                    k[len("test/") :]: v
                    for k, v in metrics.items()
                    if k.startswith(f"test/{m}_") and k != f"test/{m}_macro" and not k.endswith(INTERVAL_ENDS)
                }
            )
    else:
        row["status"] = "no metrics"
    return row


def summarize(sweep_dir: str | Path, sort: str | None = None, metrics=None, per_class=()) -> pd.DataFrame:
    """Write summary.csv, summary.md and index.html for the jobs under `sweep_dir`; return the table.

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
    intervals = [m + end for m in found for end in INTERVAL_ENDS if m + end in table]
    keys = [c for c in table.columns if c not in ("job", "status", *found, *intervals)]
    varying = [k for k in keys if len(jobs) == 1 or table[k].astype(str).nunique() > 1]
    chosen = [m for m in (metrics or found) if m in table]
    if sort is not None:
        if sort not in table:
            raise ValueError(f"cannot sort by {sort!r}: no job has it; metrics found: {found}")
        table = table.sort_values(sort, ascending=False, na_position="last", kind="stable")
        chosen = chosen if sort in chosen else [sort, *chosen]
    with_ends = [c for m in chosen for c in (m, *(m + end for end in INTERVAL_ENDS)) if c in table]
    table = table[["job", *varying, "status", *with_ends]]
    table.to_csv(sweep_dir / "summary.csv", index=False)
    shown = with_intervals(table, chosen)
    markdown = [shown.to_markdown(index=False, floatfmt=".4f")]
    repeats = repeat_table(table, varying, chosen)
    if repeats is not None:
        repeats.to_csv(sweep_dir / "summary_repeats.csv", index=False)
        markdown += ["", "## Mean +- standard deviation over seeds / folds", "", repeats_markdown(repeats, chosen)]
    (sweep_dir / "summary.md").write_text("\n".join(markdown) + "\n")
    write_sweep_index(sweep_dir, shown)
    return table


def with_intervals(table: pd.DataFrame, metrics) -> pd.DataFrame:
    """The table for summary.md: a metric with an interval as "value [low, high]", its end columns dropped."""
    shown = table.copy()
    for m in metrics:
        if m + INTERVAL_ENDS[0] in shown:
            low, high = (shown.pop(m + end) for end in INTERVAL_ENDS)
            shown[m] = [
                f"{v:.4f} [{lo:.4f}, {hi:.4f}]" if pd.notna(lo) else ("" if pd.isna(v) else f"{v:.4f}")
                for v, lo, hi in zip(shown[m], low, high)
            ]
    return shown


def repeat_table(table: pd.DataFrame, varying, metrics) -> pd.DataFrame | None:
    """Per configuration (the varying overrides other than REPEAT_KEYS) with two or more finished jobs: the
    number of jobs and each metric's mean and standard deviation over them; None without such repeats."""
    repeats = [k for k in varying if k in REPEAT_KEYS]
    done = table[table.status == "ok"]
    if not repeats or done.empty:
        return None
    config = [k for k in varying if k not in REPEAT_KEYS]
    groups = done.groupby(config, dropna=False, sort=False) if config else [((), done)]
    rows = []
    for key, jobs in groups:
        if len(jobs) < 2:
            continue
        row = dict(zip(config, key if isinstance(key, tuple) else (key,)))
        row.update(jobs=len(jobs), repeats=",".join(f"{k}={'/'.join(jobs[k].astype(str))}" for k in repeats))
        for m in metrics:
            row[f"{m}_mean"], row[f"{m}_std"] = jobs[m].mean(), jobs[m].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def repeats_markdown(repeats: pd.DataFrame, metrics) -> str:
    shown = repeats.drop(columns=[c for m in metrics for c in (f"{m}_mean", f"{m}_std")])
    for m in metrics:
        shown[m] = [f"{a:.4f} +- {s:.4f}" for a, s in zip(repeats[f"{m}_mean"], repeats[f"{m}_std"])]
    return shown.to_markdown(index=False)


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
