"""Test-time augmentation and batched inference: class probabilities of a classifier over a loader.

A view is one of the 8 dihedral transforms of the square input (dermoscopy has no up or left);
conf/tta/ lists them: none = identity, flips = identity + the 3 flips, d4 = all 8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from skinlight.errors import ConfigError

VIEWS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda x: x,
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "rot90": lambda x: x.rot90(1, (-2, -1)),
    "rot180": lambda x: x.rot90(2, (-2, -1)),
    "rot270": lambda x: x.rot90(3, (-2, -1)),
    "transpose": lambda x: x.transpose(-2, -1),
    "antitranspose": lambda x: x.rot90(2, (-2, -1)).transpose(-2, -1),
}


def check_views(views: Iterable[str]) -> list[str]:
    """The view names, identity first (the plain prediction); unknown names stop here."""
    views = list(views)
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ConfigError(f"tta.views has {unknown or 'nothing'}; choose among {list(VIEWS)}")
    return ["identity", *(v for v in views if v != "identity")]


@torch.no_grad()
def predict_probs(model, loader, views=("identity",), description: str = "predict") -> Tensor:
    """Softmax probabilities (V, N, C) of `model` for every batch of `loader`, one slice per view.

    Batches are dicts with "image" and optionally "meta" (the datamodule's items).
    """
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for batch in tqdm(loader, desc=description, unit="batch", leave=False):
        image = batch["image"].to(device)
        meta = batch["meta"].to(device) if "meta" in batch else None
        chunks.append(torch.stack([model(VIEWS[v](image), meta).softmax(1).float().cpu() for v in views]))
    return torch.cat(chunks, dim=1)
