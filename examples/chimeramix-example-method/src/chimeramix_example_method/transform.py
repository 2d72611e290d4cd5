"""The transform of ``flip-blend``: one float C x H x W image in [0, 1] in, one out."""

from __future__ import annotations

import torch
from torch import nn


class FlipBlend(nn.Module):
    """With probability ``p``, ``(1 - w) * image + w * flipped`` for ``w`` uniform in [0, ``max_weight``], where
    ``flipped`` is the image upside down. Its randomness comes from torch's global RNG, which chimeramix seeds
    for every image (as for the built-in policies)."""

    def __init__(self, p: float = 0.5, max_weight: float = 0.3) -> None:
        super().__init__()
        self.p, self.max_weight = p, max_weight

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()).item() >= self.p:
            return image
        weight = torch.rand(()).item() * self.max_weight
        return (1 - weight) * image + weight * image.flip(-2)


def flip_blend(image_size: int) -> nn.Module:
    """The transform at any image size (the registry's ``transform`` reference)."""
    return FlipBlend()
