"""Soft attention over a CNN feature map (Datta et al. 2021, "Soft-Attention Improves Skin Cancer
Classification Performance"), in its intended form.

For a feature map t (B, C, h, w): K attention maps come from one 3-D convolution whose kernel
spans all C channels in depth (and k x k positions), a softmax over the h*w positions turns
each map into weights that sum to 1, the K maps are summed, and the attended map is
gamma * t * sum_k(map_k), gamma a learnable scalar that starts at 1.0.

How this differs from the public Keras reference code (github.com/skrantidatta/
Attention-based-Skin-Cancer-Classification, also used by Nguyen et al. 2022): there the
3-D kernel is laid out so that the attention maps, and with them the logits, depend on feature
channels 0..2 only (the other channels are never seen by the convolution). Here the kernel
depth is the full channel count C, as the paper describes, so every channel contributes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from skinlight.errors import ConfigError


class SoftAttention(nn.Module):
    """t (B, C, h, w) -> (gamma * t * sum_k a_k, a) with a (B, K, h, w), each a_k summing to 1 over h*w."""

    def __init__(self, channels: int, maps: int = 16, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"head.kernel_size must be odd (the maps keep the feature map's size), got {kernel_size}")
        # in: (B, 1, C, h, w); the kernel covers all C channels in depth -> out (B, K, 1, h, w)
        self.conv = nn.Conv3d(
            1, maps, kernel_size=(channels, kernel_size, kernel_size), padding=(0, kernel_size // 2, kernel_size // 2)
        )
        self.gamma = nn.Parameter(torch.tensor(1.0))

    def forward(self, t: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = t.shape
        logits = self.conv(t.unsqueeze(1)).squeeze(2)  # (B, K, h, w)
        maps = logits.flatten(2).softmax(dim=-1).view(b, -1, h, w)
        return self.gamma * t * maps.sum(dim=1, keepdim=True), maps
