"""The U-Net of Elgohary et al. 2024 for PH2 lesion segmentation (their Sec. 2.4, Table 2).

From the paper: an encoder of four blocks of "two convolutional layers with batch normalization and
ReLU activation", each followed by max-pooling; "spatial dropout" (Table 2: 0.4); a decoder that
"mirrors the encoder" with "four transposed convolutional layers for up-sampling"; "a 1x1
convolution followed by a sigmoid activation". It returns logits: the sigmoid is applied by the
loss (on logits, numerically stable) and at prediction.

Assumed (their Figure 2 is not in the text): 3x3 convolutions, 2x2 pooling and 2x2 stride-2
transposed convolutions; U-Net skip connections (each up-sampled map concatenated with its
encoder level, then two conv-BN-ReLU); a bottleneck of two conv-BN-ReLU; the dropout after each
pooling; widths base_channels * (1, 2, 4, 8), bottleneck 16x (base 64: 31,037,633 parameters).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ElgoharyUNet(nn.Module):
    def __init__(self, in_channels: int = 3, base_channels: int = 64, depth: int = 4, dropout: float = 0.4):
        super().__init__()
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.output_stride = 2**depth  # input sides must be multiples of this
        self.encoder = nn.ModuleList(_double_conv(cin, cout) for cin, cout in zip([in_channels, *widths], widths[:-1]))
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Dropout2d(dropout))
        self.bottleneck = _double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList(nn.ConvTranspose2d(w, w // 2, 2, stride=2) for w in reversed(widths[1:]))
        self.decoder = nn.ModuleList(_double_conv(w, w // 2) for w in reversed(widths[1:]))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.down(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)
