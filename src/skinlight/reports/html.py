"""Self-contained HTML pages: a run's report/index.html (its command, test metrics with intervals, every table
and figure of report/, the figures embedded as data URIs so that the one file opens anywhere, offline) and a
sweep's index.html (its summary table, each job linking to its report)."""

from __future__ import annotations

import base64
import json
import os
import shlex
from html import escape
from pathlib import Path

import jinja2
import pandas as pd

from skinlight.metrics.bootstrap import INTERVAL_ENDS
from skinlight.rundir import RunDir

# Figures in reading order; any other report/*.png (segmentation overlays, a Grad-CAM grid) follows by name.
FIGURES = ("confusion_matrix", "roc", "reliability", "learning_curves", "subgroups", "gradcam")
TABLE_ROWS = 50  # a longer table (per-image scores) shows its first rows and names its file

_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
pre { background: #f4f4f4; padding: .8em; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { display: inline-block; margin: 0 1.5em 1.5em 0; vertical-align: top; }
img { max-width: 100%; }
.note { color: #666; font-size: .9em; }
.scroll { overflow-x: auto; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
{% if command %}<h2>Command</h2>
<pre>{{ command }}</pre>{% endif %}
{% if headline %}<h2>Test metrics with their 95 % intervals</h2>
{{ headline | safe }}{% endif %}
{% for figure in figures %}<figure><img src="{{ figure.src }}" alt="{{ figure.name }}">
<figcaption>{{ figure.name }}</figcaption></figure>
{% endfor %}
{% for section in sections %}<h2>{{ section.heading }}</h2>
{% if section.note %}<p class="note">{{ section.note }}</p>{% endif %}
<div class="scroll">{{ section.html | safe }}</div>
{% endfor %}
{% if every_metric %}<details><summary>All {{ every_metric_count }} metrics of metrics.json</summary>
{{ every_metric | safe }}</details>{% endif %}
</body>
</html>
"""
)


def metrics_table(metrics: dict[str, float]) -> pd.DataFrame:
    """One row per metric of metrics.json: its value and, where the bootstrap gave one, its interval."""
    low, high = INTERVAL_ENDS
    rows = [
        {"metric": key, "value": value, "ci_low": metrics.get(key + low), "ci_high": metrics.get(key + high)}
        for key, value in metrics.items()
        if not key.endswith(INTERVAL_ENDS) and key.rsplit("/", 1)[-1] not in ("ci_level", "ci_resamples", "ci_groups")
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high"])


def run_command(run_dir: RunDir, script: str = "train.py") -> str | None:
    """The command that made the run: run_info.json's argv where `script` was run, else `python <script>` with
    the overrides the run recorded (a job started from Python, as the tests do); None without either."""
    info = json.loads(run_dir.run_info.read_text()) if run_dir.run_info.is_file() else {}
    argv = info.get("argv") or []
    if argv and Path(argv[0]).name == script:
        return shlex.join(["python", script, *argv[1:]])
    if "overrides" in info:
        return shlex.join(["python", script, *info["overrides"]])
    if run_dir.overrides.is_file():
        return shlex.join(["python", script, *(f"{k}={v}" for k, v in run_dir.read_overrides().items())])
    return None


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _table_html(table: pd.DataFrame, links: dict[int, str] | None = None) -> str:
    """The table as HTML, its cells escaped; with `links`, row i's first cell links to links[i]."""
    if not links:
        return table.to_html(index=False, float_format="{:.4f}".format, na_rep="–")
    table = table.map(lambda v: escape(v) if isinstance(v, str) else v)
    first = table.columns[0]
    table[first] = [f'<a href="{links[i]}">{v}</a>' if i in links else v for i, v in enumerate(table[first])]
    return table.to_html(index=False, escape=False, float_format="{:.4f}".format, na_rep="–")


def _sections(folder: Path) -> list[dict]:
    sections = []
    for path in sorted(folder.glob("*.csv")):
        table = pd.read_csv(path)
        note = f"the first {TABLE_ROWS} of {len(table)} rows; all in {path.name}" if len(table) > TABLE_ROWS else None
        sections.append({"heading": path.stem, "note": note, "html": _table_html(table.head(TABLE_ROWS))})
    return sections


def _figures(folder: Path) -> list[dict]:
    rank = {name: i for i, name in enumerate(FIGURES)}
    paths = sorted(folder.glob("*.png"), key=lambda p: (rank.get(p.stem, len(FIGURES)), p.stem))
    return [{"name": p.stem, "src": _data_uri(p)} for p in paths]


def write_page(folder: Path, title: str, command: str | None = None, metrics: dict | None = None) -> Path:
    """folder/index.html: the command, the metrics that have an interval, every PNG figure and CSV table of
    `folder`, then all of `metrics` (folded)."""
    table = metrics_table(metrics or {})
    page = folder / "index.html"
    html = _PAGE.render(
        title=title,
        command=command,
        headline=_table_html(table.dropna(subset=["ci_low"])) if table["ci_low"].notna().any() else None,
        figures=_figures(folder),
        sections=_sections(folder),
        every_metric=_table_html(table) if len(table) else None,
        every_metric_count=len(table),
    )
    page.write_text(html, encoding="utf-8")
    return page


def write_run_report(run_dir: RunDir) -> Path:
    """report/index.html of a tested run."""
    return write_page(run_dir.report, f"skinlight run {run_dir.path}", run_command(run_dir), run_dir.read_metrics())


def write_sweep_index(sweep_dir: str | Path, table: pd.DataFrame) -> Path:
    """index.html of a sweep directory: its summary table (summary.md's), each job linking to its
    report/index.html where it has one."""
    sweep_dir = Path(sweep_dir)
    links = {
        i: os.path.join(str(job), "report", "index.html")
        for i, job in enumerate(table["job"])
        if (sweep_dir / str(job) / "report" / "index.html").is_file()
    }
    section = {"heading": "Jobs", "html": _table_html(table, links)}
    page = sweep_dir / "index.html"
    page.write_text(_PAGE.render(title=f"skinlight sweep {sweep_dir}", sections=[section]), "utf-8")
    return page
