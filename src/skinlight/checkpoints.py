"""Self-describing checkpoints: one loader for either task.

A skinlight checkpoint carries a record (skinlight.models.module.RECORD_KEY) naming its task and,
as plain hyper-parameters, everything inference needs (see skinlight.models.module). Any other file
(missing, unreadable, pickled code, another program's checkpoint) is refused with one
CheckpointError that names it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from skinlight.errors import CheckpointError
from skinlight.models.classifier import Classifier
from skinlight.models.module import RECORD_KEY, LesionModule
from skinlight.models.segmenter import Segmenter

MODULES: dict[str, type[LesionModule]] = {Classifier.TASK: Classifier, Segmenter.TASK: Segmenter}
# what to do with a checkpoint of the other task, by the task a command takes
OTHER_TASK_HINT = {
    "classification": "masks: python predict_masks.py ckpt_path=...",
    "segmentation": "train a segmenter with model=unet, deeplabv3plus or unet_elgohary",
}


def read_checkpoint(path: str | Path) -> tuple[str, dict]:
    """(task, hyper-parameters) of a skinlight checkpoint, without building its network."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, AttributeError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not a checkpoint that torch.load reads safely (weights_only): {str(e).splitlines()[0]}"
        ) from None
    record = checkpoint.get(RECORD_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(record, dict) or record.get("task") not in MODULES:
        raise CheckpointError(
            f"{path} is not a skinlight checkpoint (it has no {RECORD_KEY!r} record naming "
            f"one of the tasks {sorted(MODULES)}; train.py writes it)"
        )
    return record["task"], checkpoint["hyper_parameters"]


def load_checkpoint(path: str | Path, task: str | None = None) -> LesionModule:
    """The module of a checkpoint (Classifier or Segmenter), on the CPU in eval mode, built without
    downloading pretrained weights. With `task`, a checkpoint of the other task is refused."""
    found, hparams = read_checkpoint(path)
    if task is not None and found != task:
        raise CheckpointError(
            f"{path} is a {found} checkpoint; this command takes a {task} checkpoint ({OTHER_TASK_HINT[task]})"
        )
    module = MODULES[found]
    return module.load_from_checkpoint(
        path, map_location="cpu", weights_only=True, **module.offline_hparams(hparams)
    ).eval()
