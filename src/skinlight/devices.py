"""Device choice for inference commands: `auto` is CUDA when available, else the CPU."""

from __future__ import annotations

import torch


def device_of(device: str = "auto") -> torch.device:
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
