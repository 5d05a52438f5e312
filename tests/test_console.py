"""The console: train.py run on a real pseudo-terminal draws Lightning's rich bar and summary with coloured log
levels; run with its output to a pipe it writes one line per epoch, no carriage returns and no colour codes; in
both, train.log is plain text and the config tree is printed first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST
from lightning.pytorch.callbacks import ModelSummary, RichModelSummary, RichProgressBar, TQDMProgressBar

from skinlight import console
from skinlight.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = [o for o in FAST if o != "callbacks.progress_bar=null"] + ["trainer.max_epochs=2"]  # the default bar


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}


def _train(tmp_path: Path, synthetic_root: Path, terminal: bool) -> tuple[int, str, Path]:
    """train.py on synthetic data, its stdout and stderr on a pseudo-terminal or a pipe: (rc, output, run dir)."""
    run_dir = tmp_path / "run"
    args = [sys.executable, str(ROOT / "train.py"), f"data.root={synthetic_root}", *TINY, f"hydra.run.dir={run_dir}"]
    if not terminal:
        done = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
        return done.returncode, done.stdout + done.stderr, run_dir
    primary, secondary = os.openpty()
    proc = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return proc.wait(timeout=900), b"".join(chunks).decode(errors="replace"), run_dir


def _epoch_lines(log: str) -> list[str]:
    return re.findall(r"\[skinlight\.console\]\[INFO\] - (epoch \d/2, \d+ steps \(\d+:\d\d\) .*)", log)


def test_off_a_terminal_each_epoch_is_one_plain_line_in_the_output_and_train_log(tmp_path, synthetic_root):
    rc, output, run_dir = _train(tmp_path, synthetic_root, terminal=False)
    assert rc == 0, output[-3000:]
    assert "\r" not in output and "\x1b[" not in output  # no tqdm redraws, no colour codes
    assert output.lstrip().startswith("config\n") and "├── data" in output
    assert "| Name" in output  # Lightning's plain model summary
    train_log = (run_dir / "train.log").read_text()
    epochs = _epoch_lines(train_log)
    assert [line.split(",")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("val/balanced_acc=" in line and "train/loss=" in line for line in epochs)
    assert epochs == _epoch_lines(output)


def test_on_a_terminal_the_bar_and_summary_are_rich_and_levels_coloured(tmp_path, synthetic_root):
    rc, output, run_dir = _train(tmp_path, synthetic_root, terminal=True)
    assert rc == 0, output[-3000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)  # without colours and cursor moves
    assert "━" in plain  # RichProgressBar's bar
    assert re.search(r"┃\s*┃ Name", plain)  # RichModelSummary's table header
    assert re.search(r"\[\x1b\[32mINFO\x1b\[0m\]", output)  # colorlog: INFO in green
    train_log = (run_dir / "train.log").read_text()
    assert "\x1b" not in train_log and "[skinlight.train][INFO] - test/balanced_acc=" in train_log
    assert not _epoch_lines(train_log)  # the bar shows the epochs on a terminal


def test_auto_picks_rich_on_a_terminal_and_lines_elsewhere(monkeypatch):
    monkeypatch.setattr(console, "on_terminal", lambda stream=None: True)
    assert isinstance(console.progress_bar(), RichProgressBar)
    assert isinstance(console.model_summary(), RichModelSummary)
    monkeypatch.setattr(console, "on_terminal", lambda stream=None: False)
    assert isinstance(console.progress_bar(), console.LineProgress)
    summary = console.model_summary()
    assert type(summary) is ModelSummary
    assert isinstance(console.progress_bar("tqdm"), TQDMProgressBar)
    assert isinstance(console.progress_bar("rich"), RichProgressBar)


def test_an_unknown_progress_bar_style_is_named_with_the_choices():
    with pytest.raises(
        ConfigError, match=r"^callbacks\.progress_bar\.style=fancy: choose one of auto, rich, tqdm, lines$"
    ):
        console.progress_bar("fancy")
