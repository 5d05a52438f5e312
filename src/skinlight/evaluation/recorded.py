"""Recorded members: runs' predictions.csv files as the members of an ensemble (`eval.py ensemble=[...csv]`).

A checkpoint need not outlive its machine for its model to join an ensemble: the probabilities a run
recorded (a training run's test predictions, or those of `eval.py ckpt_path=... tta=d4`) are combined as
the checkpoints' would be. The files must hold the same images, lesions, labels and classes
(skinlight.evaluation.compare.paired); the images are taken in the first file's order.
"""

from __future__ import annotations

from pathlib import Path

import torch

from skinlight.errors import ConfigError
from skinlight.evaluation.compare import paired, read_predictions


def is_recorded(members: list[tuple[str, Path]]) -> bool:
    """Whether the members are prediction files (.csv) rather than checkpoints; a mixture stops here."""
    recorded = [path.suffix == ".csv" for _, path in members]
    if any(recorded) and not all(recorded):
        raise ConfigError(
            f"ensemble={[str(p) for _, p in members]} mixes predictions.csv files and checkpoints: evaluate the "
            "checkpoints with eval.py first and ensemble their predictions.csv files"
        )
    return all(recorded)


def recorded_probs(members: list[tuple[str, Path]]):
    """(members, 1, N, C) probabilities of prediction files, and the rows (image_id, lesion_id, path), labels
    and classes they share."""
    runs = [read_predictions(path) for _, path in members]
    ids = runs[0].table.index
    for run in runs[1:]:
        paired(runs[0], run)
    classes = runs[0].classes
    probs = torch.stack([torch.tensor(run.table.loc[ids, classes].to_numpy(), dtype=torch.float32) for run in runs])
    rows = runs[0].table.loc[ids].reset_index()
    if "path" not in rows:
        rows["path"] = ""
    labels = torch.tensor(rows.label.map(classes.index).to_numpy())
    return probs[:, None], rows, labels, classes
