"""PatchGAN discriminator D (supplement C.1): real or generated, for every patch of an image.

Four 4x4 convolutions with 64/128/256/512 channels and stride 2 (the paper's text says 1; the authors' code
uses 2), instance norm on all but the first, LeakyReLU 0.2, then a 4x4 convolution to one channel and a
sigmoid; convolutions start at N(0, 0.02) with zero biases (CycleGAN's). A 64 px image gives a 3 x 3 map of
patch probabilities, a 96 px image 5 x 5. Architecture ``released`` zero-pads one row and column (top, left)
before the last convolution, as the authors' code does (4 x 4 at 64 px, 6 x 6 at 96 px), and keeps PyTorch's
default initialisation, which the authors' code does not change.
"""

from __future__ import annotations

import torch
from torch import nn

from chimeramix.config import Architecture


class PatchDiscriminator(nn.Module):
    """D(x) ∈ (0, 1)^{B x 1 x h x w}: the probability that each patch of x is real."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 512), architecture: Architecture = "paper") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for i, width in enumerate(channels):
            layers.append(nn.Conv2d(previous, width, 4, stride=2, padding=1))
            if i > 0:
                layers.append(nn.InstanceNorm2d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            previous = width
        if architecture == "released":
            layers.append(nn.ZeroPad2d((1, 0, 1, 0)))
        layers += [nn.Conv2d(previous, 1, 4, padding=1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        if architecture == "released":
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
