"""The picture of a scattering front end's wavelets: the real part of each ψ in space, one row per scale j,
one column per orientation (2 x 8 for J = 2, L = 8), centred, each scaled to its largest magnitude (grey is 0,
white positive, black negative). A run draws them at its start and at every checkpoint, so the two pictures
show what training did to the initialisation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from chimeramix.methods.scattering.network import ScatteringClassifier
from chimeramix.methods.scattering.transform import Scattering
from chimeramix.viz import image_grid, save_png, to_uint8_images

SCALE = 4
"""Pixel repetition of every wavelet tile."""


@torch.no_grad()
def wavelets_picture(front: Scattering, image_size: int) -> np.ndarray:
    """The J x L grid of the wavelets on the padded grid of ``image_size`` px images (uint8 H x W x 3)."""
    side = image_size + 2 ** (front.J + 1)
    spatial = torch.fft.ifft2(front.wavelets((side, side)).float()).real
    spatial = torch.fft.fftshift(spatial, dim=(-2, -1)).cpu()
    spatial = spatial / spatial.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    tiles = to_uint8_images(spatial, value_range=(-1, 1))
    return image_grid(list(tiles.reshape(front.J, front.L, side, side, 3)), scale=SCALE)


def write_wavelets(front: Scattering, path: str | os.PathLike[str], image_size: int) -> None:
    """:func:`wavelets_picture` as a PNG file."""
    save_png(wavelets_picture(front, image_size), path)


def draw_wavelets(model: torch.nn.Module, path_of: Callable[[str], Path], image_size: int, initial: bool) -> None:
    """The run's wavelets at its start (``wavelets-init.png``) or as they are now (``wavelets.png``)."""
    if isinstance(model, ScatteringClassifier):
        write_wavelets(model.front, path_of("wavelets-init" if initial else "wavelets"), image_size)
