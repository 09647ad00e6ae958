"""The change network: a compact early-fusion U-Net over both dates and their difference.

Early fusion (both dates stacked, as FC-EF in Daudt et al. 2018) lets the first layer
compare dates band by band; the explicit log-ratio channels hand it the change signal
that a siamese difference branch would otherwise have to learn. The model takes raw
reflectance DN (Sentinel-2 scale, 0-10,000) and normalises inside the graph with
log1p(DN)/8, so the exported ONNX file carries its own pre-processing and no caller can
get it wrong. Four levels of 16-64 channels (~0.3 M parameters) keep CPU inference well
above 50 km²/s. A siamese variant (`siamese=True`) is there for experiments; on OSCD it
did not beat early fusion on unseen cities (docs/experiments.md). A frozen
pretrained encoder (`context`, `sitewatch.train.pretrained`) can add how much its features
changed between the dates at the levels below the first; with `features_only=True` that
change is all the network reads.
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


def _projection(c_in: int, width: int) -> nn.Sequential:
    """1x1 convolution + batch norm + ReLU: `c_in` channels mixed down to `width`."""
    return nn.Sequential(nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))


def _fusion(width: int) -> nn.Sequential:
    """One level's dates merged: |a - b| (what changed) and a + b (what is there), mixed 1x1."""
    return _projection(2 * width, width)


class ChangeUNet(nn.Module):
    """Early fusion by default; `siamese=True` runs one shared encoder on each date instead.

    The siamese variant (the FC-Siam-diff family) merges the dates only after encoding, at
    every level, from |a - b| and a + b: its output cannot depend on the order of the dates,
    and a radiometric offset shared by both dates cancels in the features it compares.
    """

    def __init__(
        self,
        n_bands: int,
        widths: tuple[int, ...] = (16, 32, 64, 64),
        siamese: bool = False,
        context: nn.Module | None = None,
        context_channels: tuple[int, ...] = (),
        features_only: bool = False,
    ) -> None:
        super().__init__()
        if context is not None and (siamese or len(context_channels) >= len(widths)):
            raise ValueError("a pretrained context needs early fusion and fewer feature levels than U-Net levels")
        if features_only and context is None:
            raise ValueError("features_only needs a pretrained context: without it the network would read nothing")
        self.n_bands = n_bands
        self.widths = tuple(widths)
        # Features only: the first level reads zeros instead of the dates, so nothing but the
        # pretrained features' change reaches the network. It errs in other places than the
        # members that read the dates, which is what an ensemble needs (docs/experiments.md).
        # The first level's layers stay, so the layout is that of the other members and of the
        # fold models trained as FO. They never learn: on zeros, batch norm has nothing to
        # normalise, so the level outputs exactly 0 and passes no gradient (its biases stay 0;
        # only weight decay and the running variance move it). Its skip into the decoder is 0.
        self.features_only = features_only
        # Frozen pretrained features (`sitewatch.train.pretrained`): per level below the first,
        # their |after - before| projected 1x1 and stacked onto that level's encoder input.
        self.context = context
        self.injections = nn.ModuleList(_projection(c, w) for c, w in zip(context_channels, widths[1:], strict=False))
        self.encoders = nn.ModuleList()
        c_in = n_bands if siamese else 3 * n_bands
        for level, w in enumerate(widths):
            extra = w if 1 <= level <= len(self.injections) else 0
            self.encoders.append(_block(c_in + extra, w))
            c_in = w
        self.fusions = nn.ModuleList(_fusion(w) for w in widths) if siamese else None
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

    def _encode(self, x: torch.Tensor, context: list[torch.Tensor] = ()) -> list[torch.Tensor]:
        levels = []
        for i, encoder in enumerate(self.encoders):
            if i > 0:
                x = self.pool(x)
            if 1 <= i <= len(context):
                x = torch.cat([x, self.injections[i - 1](context[i - 1])], dim=1)
            x = encoder(x)
            levels.append(x)
        return levels

    def _context_change(self, before: torch.Tensor, after: torch.Tensor) -> list[torch.Tensor]:
        """|after - before| of the pretrained features, one map per level below the first.

        Gradients reach the encoder only when it is being fine-tuned (some parameter
        requires them); a frozen one is run without building a graph.
        """
        if self.context is None:
            return []
        n = before.shape[0]
        fine_tuned = any(p.requires_grad for p in self.context.parameters())
        with torch.set_grad_enabled(fine_tuned and torch.is_grad_enabled()):
            features = self.context(torch.cat([before, after], dim=0))
        return [torch.abs(f[n:] - f[:n]) for f in features]

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """Change logits (N, 1, H, W) from two (N, bands, H, W) DN tensors."""
        b, a = self.normalise(before), self.normalise(after)
        if self.fusions is None:
            x = torch.cat([b, a, a - b], dim=1)
            if self.features_only:
                x = x * 0.0
            skips = self._encode(x, self._context_change(before, after))
        else:
            n = b.shape[0]  # both dates in one batch: one pass, and shared batch-norm statistics
            levels = self._encode(torch.cat([b, a], dim=0))
            skips = [
                fuse(torch.cat([torch.abs(f[n:] - f[:n]), f[n:] + f[:n]], dim=1))
                for f, fuse in zip(levels, self.fusions, strict=True)
            ]
        x = skips[-1]
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
