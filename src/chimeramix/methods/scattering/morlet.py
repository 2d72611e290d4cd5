"""Morlet wavelets as differentiable functions of their parameters (Parametric Scattering Networks, Gauthier
et al. 2022; ``shared/docs/baselines.md`` section 1), in the Fourier domain of the padded input.

A wavelet has four scalars: orientation θ, frequency ξ, scale σ and slant γ. With e = (cos θ, sin θ) and e⊥ its
orthogonal, on the integer grid u of the padded input (centred at 0, in FFT order):

    g(u) = exp(-[(e·u)² + γ² (e⊥·u)²] / (2σ²)),   ψ(u) = g(u) exp(i ξ e·u) - β g(u),
    β = Σ_u Re(g(u) exp(i ξ e·u)) / Σ_u g(u)        (zero mean),

and the filter is the real part of FFT(ψ) / (2π σ² / γ) (kymatio's 3.1415 for π). The low-pass φ is the
Gaussian with σ = 0.8·2^(J-1), γ = 1. Lower resolutions of a filter (for the subsampled layers) are kymatio's
periodisation: the frequencies above the new Nyquist band are masked, then the 2^r x 2^r tiles are summed.

Initialisations (one wavelet per scale index j in 0..J-1 and orientation t in 0..L-1, j-major):

- ``tight-frame`` (kymatio's own filter bank): σ = 0.8·2^j, θ = (L/2 - 1 - t)·π/L, ξ = 3π / (4·2^j), γ = 4/L;
- ``random``: θ ~ U(0, 2π), γ ~ U(0.5, 1.5), ξ ~ U(0.5, 1), σ = ln(U(e, e⁵)) ∈ [1, 5].

Each wavelet keeps its scale index j (it decides the subsampling 2^j) whatever σ and ξ become.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

FilterInit = Literal["tight-frame", "random"]
FILTER_INITS: tuple[FilterInit, ...] = ("tight-frame", "random")
PI = 3.1415
"""kymatio's value of π in the filters' normalisation (2π σ² / γ)."""


class MorletParameters(NamedTuple):
    """θ, ξ, σ, γ of J·L wavelets, one 1-D tensor each (wavelet n has scale index n // L)."""

    orientation: torch.Tensor
    frequency: torch.Tensor
    scale: torch.Tensor
    slant: torch.Tensor


def initial_parameters(J: int, L: int, init: FilterInit, generator: torch.Generator | None = None
                       ) -> MorletParameters:
    """The J·L wavelets' parameters under ``init`` (see the module docstring), float32."""
    j = torch.arange(J, dtype=torch.float64).repeat_interleave(L)
    if init == "tight-frame":
        t = torch.arange(L, dtype=torch.float64).repeat(J)
        values = ((L // 2 - 1 - t) * math.pi / L, 3 * math.pi / (4 * 2**j), 0.8 * 2**j, torch.full_like(j, 4 / L))
    elif init == "random":
        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(J * L, generator=generator, dtype=torch.float64)
        values = (uniform(0, 2 * math.pi), uniform(0.5, 1), uniform(math.e, math.e**5).log(), uniform(0.5, 1.5))
    else:
        raise ValueError(f"unknown filter initialisation {init!r}; use one of {FILTER_INITS}")
    return MorletParameters(*(value.float() for value in values))


def fft_grid(size: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer coordinates (rows M x 1, columns 1 x N) of an M x N grid centred at 0, in FFT order."""
    rows, columns = (torch.fft.fftfreq(n, 1 / n, device=device) for n in size)
    return rows[:, None], columns[None, :]


def gaussian(along: torch.Tensor, across: torch.Tensor, scale: torch.Tensor | float,
             slant: torch.Tensor | float) -> torch.Tensor:
    """g = exp(-[along² + γ² across²] / (2σ²)); parameters broadcast against the coordinates."""
    return torch.exp(-(along**2 + (slant * across) ** 2) / (2 * scale**2))


def morlet_filters(parameters: MorletParameters, size: tuple[int, int]) -> torch.Tensor:
    """The wavelets' Fourier filters on the M x N padded grid: real, n x M x N, differentiable in every
    parameter."""
    theta, xi, sigma, gamma = (value[:, None, None] for value in parameters)
    rows, columns = fft_grid(size, theta.device)
    cos, sin = torch.cos(theta), torch.sin(theta)
    along, across = cos * rows + sin * columns, cos * columns - sin * rows
    envelope = gaussian(along, across, sigma, gamma)
    real, imaginary = envelope * torch.cos(xi * along), envelope * torch.sin(xi * along)
    beta = real.sum((-2, -1), keepdim=True) / envelope.sum((-2, -1), keepdim=True)
    wavelet = torch.complex(real - beta * envelope, imaginary)
    return torch.fft.fft2(wavelet).real / (2 * PI * sigma**2 / gamma)


def lowpass_filter(J: int, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """The fixed low-pass φ (Gaussian, σ = 0.8·2^(J-1), γ = 1) on the M x N padded grid, in Fourier."""
    rows, columns = fft_grid(size, device)
    sigma = 0.8 * 2 ** (J - 1)
    envelope = gaussian(rows, columns, sigma, 1.0)
    return torch.fft.fft2(envelope.to(torch.complex64)).real / (2 * PI * sigma**2)


def periodize(filters: torch.Tensor, resolution: int) -> torch.Tensor:
    """kymatio's ``periodize_filter_fft`` of ``... x M x N`` Fourier filters at resolution r: the band above
    the new Nyquist frequency masked, then the 2^r x 2^r tiles of size M/2^r x N/2^r summed."""
    if resolution == 0:
        return filters
    factor = 2**resolution
    mask = filters.new_ones(filters.shape[-2:])
    M, N = mask.shape
    start_row, start_column = int(M / (2 * factor)), int(N / (2 * factor))
    mask[start_row:start_row + int(M * (1 - 1 / factor))] = 0
    mask[:, start_column:start_column + int(N * (1 - 1 / factor))] = 0
    tiles = (filters * mask).reshape(*filters.shape[:-2], factor, M // factor, factor, N // factor)
    return tiles.sum((-4, -2))
