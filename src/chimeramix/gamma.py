"""Gamma(alpha, 1) samples drawn from a ``torch.Generator`` (``torch.distributions`` takes none), for Dirichlet
weights (of soft multi-image masks, of mixes of K images): drawn this way, they are reproducible from a run's seed
on any device."""

from __future__ import annotations

import math

import torch


def sample_gamma(alpha: float, shape: tuple[int, ...], rng: torch.Generator, proposals: int = 12) -> torch.Tensor:
    """Gamma(``alpha``, 1) samples drawn from ``rng`` on its device (``torch.distributions`` takes no generator):
    Marsaglia and Tsang's method with ``proposals`` candidates per sample, the first accepted one kept (each is
    accepted with probability > 0.95, so all 12 fail with probability < 1e-15; then the mode stands in); for
    alpha < 1, Gamma(alpha + 1) U^(1 / alpha)."""
    device = rng.device
    boosted = alpha + 1.0 if alpha < 1.0 else alpha
    d = boosted - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    x = torch.randn((proposals, *shape), generator=rng, device=device)
    u = torch.rand((proposals, *shape), generator=rng, device=device)
    v = (1.0 + c * x) ** 3
    accepted = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-30)))
    first = accepted.float().argmax(dim=0, keepdim=True)
    samples = torch.where(accepted.any(dim=0), d * v.gather(0, first)[0], torch.full(shape, d, device=device))
    if alpha < 1.0:
        samples = samples * torch.rand(shape, generator=rng, device=device) ** (1.0 / alpha)
    return samples
