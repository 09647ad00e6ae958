"""The change network: a compact early-fusion U-Net over both dates and their difference.

Early fusion (both dates stacked, as FC-EF in Daudt et al. 2018) lets the first layer
compare dates band by band; the explicit log-ratio channels hand it the change signal
that a siamese difference branch would otherwise have to learn. The model takes raw
reflectance DN (Sentinel-2 scale, 0-10,000) and normalises inside the graph with
log1p(DN)/8, so the exported ONNX file carries its own pre-processing and no caller can
get it wrong. Four levels of 16-64 channels (~0.3 M parameters) keep CPU inference well
above 50 km²/s.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ChangeUNet(nn.Module):
    def __init__(self, n_bands: int, widths: tuple[int, ...] = (16, 32, 64, 64)) -> None:
        super().__init__()
        self.n_bands = n_bands
        self.widths = tuple(widths)
        self.encoders = nn.ModuleList()
        c_in = 3 * n_bands
        for w in widths:
            self.encoders.append(_block(c_in, w))
            c_in = w
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for w_skip in reversed(widths[:-1]):
            self.ups.append(nn.ConvTranspose2d(c_in, w_skip, 2, stride=2))
            self.decoders.append(_block(2 * w_skip, w_skip))
            c_in = w_skip
        self.head = nn.Conv2d(c_in, 1, 1)

    @property
    def size_multiple(self) -> int:
        """What input height and width must be divisible by: one 2x pooling per level below the first."""
        return 2 ** (len(self.widths) - 1)

    @staticmethod
    def normalise(dn: torch.Tensor) -> torch.Tensor:
        return torch.log1p(torch.clamp(dn, min=0.0)) / 8.0

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """Change logits (N, 1, H, W) from two (N, bands, H, W) DN tensors."""
        b, a = self.normalise(before), self.normalise(after)
        x = torch.cat([b, a, a - b], dim=1)
        skips = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips[:-1]), strict=True):
            x = decoder(torch.cat([up(x), skip], dim=1))
        return self.head(x)


class ProbabilityModel(nn.Module):
    """What is exported: change probability (N, H, W) in [0, 1]."""

    def __init__(self, net: ChangeUNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(before, after))[:, 0]
