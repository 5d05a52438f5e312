"""Checkpoints as evaluation members: loading, finding a sweep's checkpoints, combining probabilities."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import yaml
from torch import Tensor

from skinlight.errors import ConfigError, DataError
from skinlight.models.classifier import Classifier

COMBINE = ("mean", "geometric")


def load_classifier(path: str | Path) -> Classifier:
    """A classification checkpoint, without downloading backbone weights; any other file stops here."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        hparams = torch.load(path, map_location="cpu", weights_only=True).get("hyper_parameters", {})
    except (RuntimeError, pickle.UnpicklingError, EOFError, AttributeError) as e:
        raise DataError(f"{path} is not a skinlight checkpoint: {e}") from None
    if "net" in hparams:
        raise ConfigError(f"{path} is a segmentation checkpoint; this command takes a classification "
                          "checkpoint (masks: python predict_masks.py ckpt_path=...)")
    if "class_names" not in hparams or "backbone" not in hparams:
        raise ConfigError(f"{path} is not a skinlight classification checkpoint "
                          f"(its hyper-parameters: {sorted(hparams)})")
    return Classifier.from_checkpoint(path)


def sweep_members(sweep_dir: Path, checkpoint: str = "best") -> list[tuple[str, Path]]:
    """(name, checkpoint) of every job of a Hydra multirun directory, named by its varying overrides."""
    jobs = sorted((d for d in sweep_dir.iterdir() if (d / ".hydra" / "overrides.yaml").is_file()),
                  key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
    if not jobs:
        raise DataError(f"ensemble={sweep_dir}: no job folders (with .hydra/overrides.yaml) in it; "
                        "give a multirun directory or a list of checkpoints")
    overrides = [dict(o.split("=", 1) for o in yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()) or []
                      if "=" in o) for d in jobs]
    varying = [k for k in overrides[0] if len({str(o.get(k)) for o in overrides}) > 1]
    members = []
    for job, keys in zip(jobs, overrides):
        ckpt = job / "checkpoints" / f"{checkpoint}.ckpt"
        if not ckpt.is_file():
            raise DataError(f"sweep job {job} has no {ckpt.relative_to(job)} (failed or unfinished?); "
                            "pass the other jobs' checkpoints as a list: ensemble=[a.ckpt,b.ckpt]")
        members.append((" ".join(f"{k}={keys[k]}" for k in varying) or job.name, ckpt))
    return members


def find_members(ckpt_path: str | None, ensemble, checkpoint: str = "best") -> list[tuple[str, Path]]:
    """The checkpoints to evaluate: `ckpt_path` (one), or `ensemble` (a sweep directory or a list of files)."""
    if (ckpt_path is None) == (ensemble is None):
        raise ConfigError("give exactly one of ckpt_path=<checkpoint> or ensemble=<sweep dir or [ckpt,...]>")
    if isinstance(ensemble, str):
        if not Path(ensemble).is_dir():
            raise DataError(f"ensemble={ensemble}: not a directory; give a multirun directory or [a.ckpt,b.ckpt]")
        return sweep_members(Path(ensemble), checkpoint)
    paths = [Path(p) for p in ([ckpt_path] if ckpt_path is not None else ensemble)]
    # a run's checkpoints/best.ckpt is named after its run folder
    return [(p.parent.parent.name if p.parent.name == "checkpoints" else p.stem, p) for p in paths]


def combine(probs: Tensor, how: str = "mean") -> Tensor:
    """Combine (M, N, C) probabilities of M members into (N, C): arithmetic or geometric mean."""
    if how == "mean":
        return probs.mean(0)
    if how == "geometric":
        log_mean = probs.clamp_min(1e-12).log().mean(0)
        return log_mean.softmax(1)  # exp(mean log p), renormalised
    raise ConfigError(f"combine={how!r}: choose one of {list(COMBINE)}")
