"""What a person reads while a job runs: Lightning's rich progress bar and model summary on a terminal, one log
line per epoch where the output goes to a file (no carriage returns in train.log or a captured console), and
the composed config as a tree at start-up."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

import lightning.pytorch as L
from lightning.pytorch.callbacks import ModelSummary, ProgressBar, RichModelSummary, RichProgressBar, TQDMProgressBar
from omegaconf import DictConfig, ListConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

from skinlight.errors import ConfigError

log = logging.getLogger(__name__)
STYLES = ("auto", "rich", "tqdm", "lines")


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (default: stderr, where progress bars draw) is an interactive terminal."""
    stream = stream or sys.stderr
    return stream.isatty() and os.environ.get("TERM") != "dumb"


class LineProgress(ProgressBar):
    """A progress bar for log files: one logging line per training epoch (steps, wall time, the progress-bar
    metrics, validation's included) and one per test or predict pass, through the `skinlight.console` logger
    (so into train.log too)."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._started = time.monotonic()

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def _line(self, trainer: L.Trainer, module: L.LightningModule, what: str) -> None:
        if not self._enabled:
            return
        minutes, seconds = divmod(int(time.monotonic() - self._started), 60)
        metrics = {k: v for k, v in self.get_metrics(trainer, module).items() if k != "v_num"}
        shown = "".join(f" {k}={v:.4g}" if isinstance(v, float) else f" {k}={v}" for k, v in metrics.items())
        log.info("%s (%d:%02d)%s", what, minutes, seconds, shown)

    def _start(self, *_) -> None:
        self._started = time.monotonic()

    on_train_epoch_start = on_test_start = on_predict_start = _start

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        steps = self.total_train_batches
        self._line(trainer, module, f"epoch {trainer.current_epoch + 1}/{epochs}, {steps} steps")

    def on_test_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._line(trainer, module, f"test, {sum(trainer.num_test_batches)} steps")

    def on_predict_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._line(trainer, module, f"predict, {sum(trainer.num_predict_batches)} steps")


def progress_bar(style: str = "auto", refresh_rate: int = 10) -> ProgressBar:
    """The progress bar callback: `rich` (Lightning's RichProgressBar), `tqdm`, `lines` (LineProgress), or
    `auto`: rich on a terminal, lines otherwise."""
    if style not in STYLES:
        raise ConfigError(f"callbacks.progress_bar.style={style}: choose one of {', '.join(STYLES)}")
    if style == "auto":
        style = "rich" if on_terminal() else "lines"
    if style == "rich":
        return RichProgressBar(refresh_rate=refresh_rate, leave=True)
    if style == "tqdm":
        return TQDMProgressBar(refresh_rate=refresh_rate)
    return LineProgress()


def model_summary(max_depth: int = 1) -> ModelSummary:
    """Lightning's model summary: the rich table on a terminal, the plain one otherwise."""
    return RichModelSummary(max_depth=max_depth) if on_terminal() else ModelSummary(max_depth=max_depth)


FIRST = ("data", "model", "backbone", "head", "loss", "optimizer", "scheduler", "trainer", "callbacks", "logger")


def print_config_tree(cfg: DictConfig, file: TextIO | None = None) -> None:
    """The composed config as a tree, one branch per top-level key (the experiment's groups first), each
    branch's YAML under it; colours only on a terminal."""
    tree = Tree("config", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + [k for k in cfg if k not in FIRST]
    for key in keys:
        branch = tree.add(f"[bold]{key}[/bold]")
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else f"{value}\n"
        branch.add(Syntax(text.rstrip("\n"), "yaml", background_color="default"))
    Console(file=file or sys.stdout, soft_wrap=True).print(tree)
