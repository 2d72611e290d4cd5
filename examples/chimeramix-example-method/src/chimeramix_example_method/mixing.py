"""``half-swap``'s pair mixing: half of each image (left, right, top or bottom, drawn per image) replaced by the
same half of a same-class partner. It is what the core's per-step augmentation asks of any pair mixing
(:class:`~chimeramix.components.hooks.GroupComposer`): how many images a composition takes, its
random draws for a batch (drawn from the run's generator, so a resumed run draws the same), and the compositions."""

from __future__ import annotations

from typing import Any

import torch

SIDES = 4
"""The half taken from the partner: 0 right, 1 left, 2 bottom, 3 top."""


class HalfSwap:
    """Compositions of each image with one same-class partner: one half of the image is the partner's."""

    images = 2
    augmented = True
    """The compositions are cropped, flipped and erased as real images are."""
    segments = None
    segment_images: tuple[int, ...] = ()

    def sample(self, count: int, rng: torch.Generator, segments: Any = None) -> torch.Tensor:
        """The half each of ``count`` compositions takes from its partner."""
        return torch.randint(0, SIDES, (count,), generator=rng, device=rng.device)

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """``images`` (2 x B x 3 x H x W, in [0, 1]): the batch images and their partners; returns B x 3 x H x W."""
        height, width = images.shape[-2:]
        rows = torch.arange(height, device=images.device).view(1, height, 1)
        columns = torch.arange(width, device=images.device).view(1, 1, width)
        halves = torch.stack([(columns >= width // 2).expand(1, height, width),
                              (columns < width // 2).expand(1, height, width),
                              (rows >= height // 2).expand(1, height, width),
                              (rows < height // 2).expand(1, height, width)])
        from_partner = halves[draws.to(images.device)]  # B x 1 x H x W
        return torch.where(from_partner, images[1], images[0])


def half_swap(config: Any, data: Any, folder: Any, device: torch.device) -> HalfSwap:
    """The ``pair_mixing`` hook of ``half-swap``: the mixing of a classifier run (it needs nothing of the run)."""
    return HalfSwap()
