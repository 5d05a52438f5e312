"""The run-directory contract: where a run's files live, a sweep's jobs, and run_info.json.

    <run>/.hydra/config.yaml     resolved config          <run>/split.csv      one row per image
    <run>/.hydra/overrides.yaml  the command's overrides  <run>/metrics.json   final test metrics (+ intervals)
    <run>/predictions.csv        per test image: lesion, label, class probabilities (classification)
    <run>/checkpoints/{best,last}.ckpt                    <run>/report/        figures and tables
    <run>/logs/metrics.csv       per-epoch values (CSV logger)
    <run>/run_info.json          seed, split protocol, command line, package versions, resume point

A sweep directory (multirun/<date>/<time>/) holds one such run per job (0/, 1/, ...) and
summary.csv / summary.md. Every module that reads or writes these files goes through RunDir.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
import yaml


@dataclass(frozen=True)
class RunDir:
    """The files of one run (or sweep job) directory."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / ".hydra" / "config.yaml"

    @property
    def overrides(self) -> Path:
        return self.path / ".hydra" / "overrides.yaml"

    @property
    def split(self) -> Path:
        return self.path / "split.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def checkpoint(self, name: str = "best") -> Path:
        return self.checkpoints / f"{name}.ckpt"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def predictions(self) -> Path:
        """A classifier's test images: lesion, label, probabilities (a segmenter's scores: report/per_image.csv)."""
        return self.path / "predictions.csv"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def logged_metrics(self) -> Path:
        """The CSV logger's per-epoch values (logs/metrics.csv)."""
        return self.path / "logs" / "metrics.csv"

    @property
    def run_info(self) -> Path:
        return self.path / "run_info.json"

    @property
    def name(self) -> str:
        return self.path.name

    def read_metrics(self) -> dict | None:
        """metrics.json, or None when the run has none (failed or unfinished)."""
        return json.loads(self.metrics.read_text()) if self.metrics.is_file() else None

    def read_overrides(self) -> dict[str, str]:
        """The command-line overrides of the run as key -> value (`key=value` items only)."""
        items = yaml.safe_load(self.overrides.read_text()) or [] if self.overrides.is_file() else []
        return dict(o.split("=", 1) for o in items if "=" in o)

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.metrics, metrics)


def run_of_checkpoint(path: str | Path) -> RunDir | None:
    """The run directory a checkpoint lies in (<run>/checkpoints/<name>.ckpt), or None for a file elsewhere."""
    path = Path(path)
    return RunDir(path.parent.parent) if path.parent.name == "checkpoints" else None


def sweep_jobs(sweep_dir: str | Path) -> list[RunDir]:
    """The job directories of a Hydra multirun directory (those with .hydra/overrides.yaml), in job order."""
    jobs = [RunDir(d) for d in Path(sweep_dir).iterdir() if RunDir(d).overrides.is_file()]
    return sorted(jobs, key=lambda j: (not j.name.isdigit(), int(j.name) if j.name.isdigit() else 0, j.name))


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


PACKAGES = (
    "skinlight",
    "torch",
    "torchvision",
    "lightning",
    "timm",
    "segmentation-models-pytorch",
    "torchmetrics",
    "albumentations",
    "hydra-core",
    "omegaconf",
    "numpy",
    "pandas",
    "scikit-learn",
    "pillow",
)


def package_versions() -> dict[str, str | None]:
    """Installed version of each package the results depend on (None where it is not installed)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def write_run_info(
    path: Path, seed: int, overrides: list[str], resumed_from: str | None, protocol: dict | None = None
) -> dict:
    """Write `path` (a run's run_info.json) and return its content; `protocol`: the split protocol's
    name and leaks (skinlight.data.protocol)."""
    info = {
        "seed": seed,
        "protocol": protocol,
        "overrides": overrides,
        "resumed_from": resumed_from,
        "argv": sys.argv,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "torch_build": {
            "version": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        },
    }
    write_json(path, info)
    return info
