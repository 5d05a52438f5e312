"""Checkpoints as evaluation members: loading, finding a sweep's checkpoints, combining probabilities."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from skinlight.checkpoints import load_checkpoint
from skinlight.errors import ConfigError, DataError
from skinlight.models.classifier import Classifier
from skinlight.rundir import run_of_checkpoint, sweep_jobs

COMBINE = ("mean", "geometric")


def load_classifier(path: str | Path) -> Classifier:
    """A classification checkpoint (skinlight.checkpoints.load_checkpoint); any other file stops here."""
    return load_checkpoint(path, task=Classifier.TASK)


def sweep_members(sweep_dir: Path, checkpoint: str = "best") -> list[tuple[str, Path]]:
    """(name, checkpoint) of every job of a Hydra multirun directory, named by its varying overrides."""
    jobs = sweep_jobs(sweep_dir)
    if not jobs:
        raise DataError(
            f"ensemble={sweep_dir}: no job folders (with .hydra/overrides.yaml) in it; "
            "give a multirun directory or a list of checkpoints"
        )
    overrides = [job.read_overrides() for job in jobs]
    varying = [k for k in overrides[0] if len({str(o.get(k)) for o in overrides}) > 1]
    members = []
    for job, keys in zip(jobs, overrides):
        ckpt = job.checkpoint(checkpoint)
        if not ckpt.is_file():
            raise DataError(
                f"sweep job {job.path} has no {ckpt.relative_to(job.path)} (failed or unfinished?); "
                "pass the other jobs' checkpoints as a list: ensemble=[a.ckpt,b.ckpt]"
            )
        members.append((" ".join(f"{k}={keys[k]}" for k in varying) or job.name, ckpt))
    return members


def member_name(path: Path) -> str:
    """A member's name: its run folder's for a run's checkpoints/<name>.ckpt or predictions.csv, else the file's."""
    if run := run_of_checkpoint(path):
        return run.name
    return path.parent.name if path.suffix == ".csv" else path.stem


def find_members(ckpt_path: str | None, ensemble, checkpoint: str = "best") -> list[tuple[str, Path]]:
    """The members to evaluate: `ckpt_path` (one), or `ensemble` (a sweep directory or a list of checkpoints or of
    runs' predictions.csv files, skinlight.evaluation.recorded)."""
    if (ckpt_path is None) == (ensemble is None):
        raise ConfigError("give exactly one of ckpt_path=<checkpoint> or ensemble=<sweep dir or [ckpt,...]>")
    if isinstance(ensemble, str):
        if not Path(ensemble).is_dir():
            raise DataError(f"ensemble={ensemble}: not a directory; give a multirun directory or [a.ckpt,b.ckpt]")
        return sweep_members(Path(ensemble), checkpoint)
    paths = [Path(p) for p in ([ckpt_path] if ckpt_path is not None else ensemble)]
    # two members of one run are named after the run and the file
    names = [member_name(p) for p in paths]
    names = [f"{n}/{p.stem}" if names.count(n) > 1 else n for n, p in zip(names, paths)]
    if len(set(names)) < len(names):
        raise ConfigError(f"ensemble={[str(p) for p in paths]} names a checkpoint twice: give each member once")
    return list(zip(names, paths))


def combine(probs: Tensor, how: str = "mean") -> Tensor:
    """Combine (M, N, C) probabilities of M members into (N, C): arithmetic or geometric mean."""
    if how == "mean":
        return probs.mean(0)
    if how == "geometric":
        log_mean = probs.clamp_min(1e-12).log().mean(0)
        return log_mean.softmax(1)  # exp(mean log p), renormalised
    raise ConfigError(f"combine={how!r}: choose one of {list(COMBINE)}")
