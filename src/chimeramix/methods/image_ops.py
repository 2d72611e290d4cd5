"""Batched image operations of the augmentations, each split into a ``sample_*`` (random, from one
``torch.Generator``) and a deterministic application."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (in [0, 1] units) of uint8 N x 3 x H x W images.

    The paper recipe normalises with the statistics of the run's own training subset: no constants from data
    the small-data protocol does not see, and the same rule for every dataset and user folder.
    """
    pixels = images.double().div(255).transpose(0, 1).flatten(1)
    return pixels.mean(dim=1).float(), pixels.std(dim=1).clamp_min(1e-3).float()


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per channel for float images in [0, 1]."""
    return (images - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def denormalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`normalize`."""
    return images * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)


def sample_crops(batch_size: int, padding: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop offsets (B x 2, each in ``0..2 * padding``) and horizontal flips (B, bool)."""
    offsets = torch.randint(0, 2 * padding + 1, (batch_size, 2), generator=rng, device=rng.device)
    flips = torch.rand(batch_size, generator=rng, device=rng.device) < 0.5
    return offsets, flips


def crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int) -> torch.Tensor:
    """Reflect-pad by ``padding``, crop each image at its (top, left) offset back to H x W, flip where asked.

    >>> x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    >>> crop_flip(x, torch.tensor([[1, 1]]), torch.tensor([True]), 1)[0, 0, 0].tolist()
    [3.0, 2.0, 1.0, 0.0]
    """
    batch, _, height, width = images.shape
    padded = nn.functional.pad(images, (padding,) * 4, mode="reflect") if padding else images
    rows = offsets[:, 0, None] + torch.arange(height, device=images.device)
    columns = torch.arange(width, device=images.device).expand(batch, width)
    columns = offsets[:, 1, None] + torch.where(flips[:, None], columns.flip(1), columns)
    index = torch.arange(batch, device=images.device)[:, None, None]
    cropped = padded[index, :, rows[:, :, None], columns[:, None, :]]  # B x H x W x C
    return cropped.permute(0, 3, 1, 2)


def crop_flip_ids(ids: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int) -> torch.Tensor:
    """:func:`crop_flip` of B x H x W integer maps (segment ids), exactly."""
    return crop_flip(ids[:, None].double(), offsets, flips, padding)[:, 0].long()


def flip_where(images: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Horizontally flip the images where ``flips`` (B booleans) is true."""
    return torch.where(flips[:, None, None, None], images.flip(-1), images)


def sample_cutout(batch_size: int, height: int, width: int, rng: torch.Generator) -> torch.Tensor:
    """Hole centres (B x 2: row, column), uniform over the image."""
    rows = torch.randint(0, height, (batch_size,), generator=rng, device=rng.device)
    columns = torch.randint(0, width, (batch_size,), generator=rng, device=rng.device)
    return torch.stack([rows, columns], dim=1)


def cutout(images: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square around each centre (rows ``c - size // 2`` up to, not including,
    ``c - size // 2 + size``), clipped at the border as in DeVries & Taylor's code."""
    _, _, height, width = images.shape
    start = centres - size // 2
    rows = torch.arange(height, device=images.device)
    columns = torch.arange(width, device=images.device)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + size)
    in_columns = (columns >= start[:, 1:]) & (columns < start[:, 1:] + size)
    hole = in_rows[:, :, None] & in_columns[:, None, :]
    return images.masked_fill(hole[:, None], 0.0)


def sample_seed(rng: torch.Generator) -> int:
    """A seed drawn from ``rng`` for a transform that uses torch's global RNG."""
    return int(torch.randint(0, 2**62, (1,), generator=rng, device=rng.device).item())


def with_seed(seed: int, transform: Callable[[], T]) -> T:
    """Run ``transform`` with torch's global CPU RNG seeded by ``seed``; the global state is restored."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return transform()


def per_image(transform: nn.Module, images: torch.Tensor, seed: int) -> torch.Tensor:
    """Apply a torchvision transform to each image separately, on CPU, with a seeded global RNG."""
    cpu = images.cpu()
    result = with_seed(seed, lambda: torch.stack([transform(image) for image in cpu]))
    return result.to(images.device)


class ReleasedRandomErasing(nn.Module):
    """Random Erasing as the authors' code applies it (Zhong et al.'s own class), to one image in [0, 1] before
    normalising, with torch's global RNG: with probability ``p`` a box of area uniform in ``scale`` of the image
    and aspect ratio h / w uniform in [``ratio``, 1 / ``ratio``] (torchvision draws it log-uniform), placed
    uniformly where it fits (up to ``attempts`` tries; then nothing), filled with noise uniform in [0, 1)."""

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.4), ratio: float = 0.3,
                 attempts: int = 100) -> None:
        super().__init__()
        self.p, self.scale, self.ratio, self.attempts = p, scale, ratio, attempts

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()).item() > self.p:
            return image
        channels, height, width = image.shape
        for _ in range(self.attempts):
            area = float(torch.empty(()).uniform_(*self.scale)) * height * width
            aspect = float(torch.empty(()).uniform_(self.ratio, 1 / self.ratio))
            box_height, box_width = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if box_height < height and box_width < width:
                top = int(torch.randint(0, height - box_height + 1, ()))
                left = int(torch.randint(0, width - box_width + 1, ()))
                erased = image.clone()
                erased[:, top : top + box_height, left : left + box_width] = torch.rand(channels, box_height,
                                                                                         box_width)
                return erased
        return image
