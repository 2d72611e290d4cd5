"""GLICO's reconstruction distances d(x̂, x) on [-1, 1] images (Azuri & Weinshall 2020; ``shared/docs/baselines.md``
section 2): the VGG-16 perceptual distance of GLICO's code, plain L1, or L1 plus ChimeraMix's Laplacian-pyramid term
(:func:`chimeramix.losses.laplacian_loss`)."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.losses import LAPLACIAN_LEVELS, laplacian_loss

VGG_LAYERS = (3, 8, 12)
"""Outputs of VGG-16's ``features`` taken by GLICO's distance: conv1_2 and conv2_2 after their (in-place)
ReLU, conv3_2 before it, as torchvision's in-place ReLUs make GLICO's hooks at 2, 7, 12 read them."""


class PerceptualDistance(nn.Module):
    """GLICO's distance: mean |x̂ - x| plus the mean absolute differences of VGG-16 features (``VGG_LAYERS``)
    of the [-1, 1] images, with the weights of a torchvision VGG-16 state dict the user supplies (frozen)."""

    def __init__(self, weights: str | None) -> None:
        super().__init__()
        from torchvision.models import vgg16

        if not weights or not os.path.isfile(weights):
            raise ChimeraMixError(f"the perceptual distance needs --perceptual-weights FILE, a torchvision VGG-16 "
                                  f"state dict; {weights!r} is not a file")
        network = vgg16(weights=None)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            network.load_state_dict(state)
        except Exception as error:  # torch.load and load_state_dict raise many types for a wrong file
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise ChimeraMixError(f"{weights} is not a torchvision VGG-16 state dict ({reason}); save one with "
                                  "torch.save(torchvision.models.vgg16(...).state_dict(), FILE)") from None
        self.features = network.features[: max(VGG_LAYERS) + 1].eval().requires_grad_(False)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        distance = F.l1_loss(x_hat, x)
        a, b = x_hat, x
        for index, layer in enumerate(self.features):
            a, b = layer(a), layer(b)
            if index in VGG_LAYERS:
                distance = distance + F.l1_loss(a, b)
        return distance


def reconstruction_distance(kind: str, weights: str | None = None) -> nn.Module:
    """GLICO's reconstruction distance d(x̂, x) on [-1, 1] images: ``laplacian`` (L1 plus ChimeraMix's L_lap),
    ``l1`` or ``perceptual`` (L1 plus VGG-16 features from ``weights``, as GLICO's code)."""
    if kind == "perceptual":
        return PerceptualDistance(weights)
    if kind == "laplacian":
        return LaplacianDistance()
    if kind == "l1":
        return nn.L1Loss()
    raise ChimeraMixError(f"unknown distance {kind!r}; use laplacian, l1 or perceptual")


class LaplacianDistance(nn.Module):
    """Mean |x̂ - x| plus :func:`laplacian_loss`: GLICO's distance with ChimeraMix's Laplacian-pyramid term in
    place of the VGG-16 features (the pyramid leaves the low-pass out, so the pixel term keeps the colours)."""

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        levels = sum(x.shape[-1] // 2**level >= 4 for level in range(LAPLACIAN_LEVELS))  # small images: fewer
        return F.l1_loss(x_hat, x) + laplacian_loss(x_hat, x, max(levels, 1))
