"""DDP helpers: outputs of all ranks back in dataset order."""

from __future__ import annotations

import lightning.pytorch as L
import torch
from torch import Tensor


def gather_in_order(module: L.LightningModule, rows: Tensor) -> Tensor:
    """All ranks' `rows` in dataset order (every rank gets them); unchanged on one process.

    Rank r must hold dataset items r, r + world, r + 2 world, ... in that order: what the
    datamodules' val/test loaders give under DDP (UnrepeatedDistributedSampler, no shuffling).
    """
    if module.trainer.world_size == 1:
        return rows
    counts = module.all_gather(torch.tensor(len(rows), device=rows.device))
    longest = int(counts.max())
    padded = torch.cat([rows, rows.new_zeros((longest - len(rows), *rows.shape[1:]))])
    gathered = module.all_gather(padded)  # (world, longest, ...)
    return gathered.transpose(0, 1).reshape(-1, *rows.shape[1:])[: int(counts.sum())]
