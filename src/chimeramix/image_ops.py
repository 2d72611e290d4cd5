"""Batched image operations that every method's augmentation shares (crop and flip, normalisation, seeded
per-image transforms), each split into a ``sample_*`` (random, from one ``torch.Generator``) and a deterministic
application. The image-space methods' own operations (cutout, Random Erasing) are in
:mod:`chimeramix.methods.image_space.erasing`."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
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


def crop_keys(positions: torch.Tensor, offsets: torch.Tensor | None = None, flips: torch.Tensor | None = None
              ) -> list[Hashable]:
    """The memo keys of fed images that are a pure function of their training image (``positions``), crop
    ``offsets`` (B x 2; ``None``: not cropped, which no offset means) and ``flips`` (``None``: none)."""
    count = len(positions)
    tops: Sequence[int | None] = [None] * count if offsets is None else offsets[:, 0].tolist()
    lefts: Sequence[int | None] = [None] * count if offsets is None else offsets[:, 1].tolist()
    flipped = [False] * count if flips is None else flips.tolist()
    return list(zip(positions.tolist(), tops, lefts, flipped, strict=True))


def flip_where(images: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Horizontally flip the images where ``flips`` (B booleans) is true."""
    return torch.where(flips[:, None, None, None], images.flip(-1), images)


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
