"""report/subgroups.csv and subgroups.png: a classifier's test metrics by patient and image subgroup.

The attributes are those of SUBGROUPS the data has: sex, age band (AGE_BANDS, missing ages
"unknown"), anatomical site (localization), how the diagnosis was confirmed (dx_type: histo,
follow_up, consensus, confocal) and the image source (dataset, in newer HAM10000 copies). One row
per attribute value: its images and lesions, balanced accuracy (over the classes present in the
subgroup), accuracy and the sensitivity (recall) of melanoma (or of the malignant class), each with
its 95 % interval from a bootstrap over the subgroup's lesions (skinlight.metrics.bootstrap). Small
subgroups have wide intervals: read the interval, not the point.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from skinlight.metrics.bootstrap import INTERVAL_ENDS, Bootstrap, confusion_samples  # noqa: E402

SUBGROUPS = {"sex": "sex", "age_band": "age", "site": "localization", "dx_type": "dx_type", "source": "dataset"}
AGE_BANDS = (0, 30, 45, 60, 75)  # [0, 30), [30, 45), ..., 75 and over
METRICS = ("balanced_acc", "acc")


def age_band(age: pd.Series) -> pd.Series:
    """'0-29', '30-44', '45-59', '60-74', '75+' or 'unknown' for each age in years."""
    labels = [f"{a}-{b - 1}" for a, b in zip(AGE_BANDS, AGE_BANDS[1:])] + [f"{AGE_BANDS[-1]}+"]
    bands = pd.cut(pd.to_numeric(age, errors="coerce"), [*AGE_BANDS, np.inf], right=False, labels=labels)
    return bands.astype(object).where(bands.notna(), "unknown")


def attribute_values(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """The subgroup value of every row for each attribute the table has (blank cells: 'unknown')."""
    found = {}
    for name, column in SUBGROUPS.items():
        if column in rows:
            values = age_band(rows[column]) if name == "age_band" else rows[column]
            found[name] = values.fillna("unknown").astype(str).str.strip().replace("", "unknown")
    return found


def subgroup_table(
    rows: pd.DataFrame, probs: np.ndarray, labels: np.ndarray, class_names, bootstrap: Bootstrap
) -> pd.DataFrame:
    """One row per (attribute, value) of the test `rows` (their lesion_id and metadata columns)."""
    preds, labels = probs.argmax(1), np.asarray(labels)
    groups = rows["lesion_id"].astype(str).to_numpy()
    table = []
    for attribute, values in {"all": pd.Series("all", index=rows.index), **attribute_values(rows)}.items():
        for value in sorted(values.unique()):
            keep = (values == value).to_numpy()
            point = confusion_samples(np.ones((1, keep.sum())), labels[keep], preds[keep], class_names)
            resampled = (
                confusion_samples(bootstrap.weights(groups[keep]), labels[keep], preds[keep], class_names)
                if bootstrap.resamples
                else {}
            )
            row = {"attribute": attribute, "value": value, "images": int(keep.sum())}
            row["lesions"] = len(set(groups[keep]))
            for name in [m for m in point if m in METRICS or m.startswith("recall_")]:
                row[name] = float(point[name][0])
                if name in resampled:
                    row.update(zip((name + end for end in INTERVAL_ENDS), bootstrap.interval(resampled[name])))
            table.append(row)
    return pd.DataFrame(table)


def plotted_metrics(table: pd.DataFrame) -> list[str]:
    """The panels of subgroups.png: balanced accuracy and the screened class's sensitivity."""
    return [m for m in table if m == "balanced_acc" or (m.startswith("recall_") and not m.endswith(INTERVAL_ENDS))]


def plot_subgroups(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric: each subgroup's value and interval, the whole test set as a dashed line."""
    metrics = plotted_metrics(table)
    labels = [
        f"{a}: {v} (n={n})" if a != "all" else f"all (n={n})"
        for a, v, n in table[["attribute", "value", "images"]].values
    ]
    y = np.arange(len(table))[::-1]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics) + 2, 0.28 * len(table) + 1.2), sharey=True)
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        value = table[metric].to_numpy(float)
        if metric + INTERVAL_ENDS[0] in table:
            low, high = (table[metric + end].to_numpy(float) for end in INTERVAL_ENDS)
            ax.hlines(y, low, high, color="tab:blue", lw=1.5)
        ax.plot(value, y, "o", color="tab:blue", ms=4)
        ax.axvline(table.loc[table.attribute == "all", metric].iloc[0], color="k", ls="--", lw=0.8)
        ax.set(xlim=(0, 1), xlabel=metric.replace("recall_", "sensitivity ") + " (95 % interval)")
    np.atleast_1d(axes)[0].set(yticks=y, yticklabels=labels)
    fig.suptitle("test metrics by subgroup", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_subgroup_report(
    out_dir: Path, rows: pd.DataFrame, probs: np.ndarray, labels: np.ndarray, class_names, bootstrap: Bootstrap
) -> pd.DataFrame | None:
    """subgroups.csv and subgroups.png under `out_dir` when the data has any subgroup attribute; the table."""
    if not attribute_values(rows):
        return None
    table = subgroup_table(rows.reset_index(drop=True), probs, labels, class_names, bootstrap)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "subgroups.csv", index=False, float_format="%.6f")
    plot_subgroups(table, out_dir / "subgroups.png")
    return table
