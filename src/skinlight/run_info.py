"""run_info.json: what is needed to repeat a run (seed, package versions, command line, resume point)."""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

PACKAGES = ("skinlight", "torch", "torchvision", "lightning", "timm", "segmentation-models-pytorch", "torchmetrics",
            "albumentations", "hydra-core", "omegaconf", "numpy", "pandas", "scikit-learn", "pillow")


def package_versions() -> dict[str, str | None]:
    """Installed version of each package the results depend on (None where it is not installed)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def write_run_info(path: Path, seed: int, overrides: list[str], resumed_from: str | None) -> dict:
    """Write run_info.json next to metrics.json and return its content."""
    info = {"seed": seed, "overrides": overrides, "resumed_from": resumed_from, "argv": sys.argv,
            "python": platform.python_version(), "platform": platform.platform(), "packages": package_versions(),
            "torch_build": {"version": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version()}}
    path.write_text(json.dumps(info, indent=2) + "\n")
    return info
