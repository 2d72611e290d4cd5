"""The parametric scattering front end (Gauthier et al. 2022; ``shared/docs/baselines.md`` section 1).

A 2-D Morlet scattering transform of order 2 with J scales and L orientations, applied to every colour channel:

    S0 x = x ⋆ φ_J,   S1 x = |x ⋆ ψ_λ1| ⋆ φ_J,   S2 x = ||x ⋆ ψ_λ1| ⋆ ψ_λ2| ⋆ φ_J   (j2 > j1),

subsampled to 1/2^J of the input side: 1 + J·L + L²·J(J-1)/2 maps per channel (J = 2, L = 8: 81, so 243 for
RGB, colour-major, 8 x 8 for 32 px). The input is reflect-padded by 2^J on every side (kymatio's padding for
sides that are multiples of 2^J); one border pixel of the output is dropped again.

The J·L wavelets are rebuilt from their parameters (θ, ξ, σ, γ, :mod:`chimeramix.methods.scattering.morlet`) on every
forward pass in training mode, so that the gradient reaches all 4·J·L of them (``learnable``; otherwise they are
buffers and nothing about them trains); evaluation mode caches the filters until the parameters change. The
low-pass φ is fixed. With the tight-frame initialisation this is kymatio's ``Scattering2D`` (tested to float
precision).

The transform is written here with ``torch.fft`` rather than fed to kymatio 0.3.0's core ``scattering2d``,
decided by ``benchmarks/scattering.py`` (forward + backward, rebuilt wavelets, 32 px, one thread of a loaded
2-core CPU): at batch 128 the two take about the same time (1.7 s and 1.6 s; kymatio's one-wavelet-at-a-time
loop keeps its tensors in cache), at the protocol's batch 10 this one is faster (101 vs 146 ms), and it
dispatches 1,028 operators per pass against kymatio's 7,658 (a GPU at batch 10 is bound by kernel launches).
It also runs inside ``torch.func.vmap`` (training packs), which kymatio's in-place padding does not, and needs
no kymatio at run time (``import kymatio.torch`` fails with SciPy >= 1.17). Products with the real filters run
on real views of the spectra (complex arithmetic is several times slower on a CPU), and the second order loops
over the first-order wavelets (one tensor for all 64 paths was 2-3x slower on a CPU: too large for its caches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.methods.scattering.morlet import (
    FilterInit,
    MorletParameters,
    initial_parameters,
    lowpass_filter,
    morlet_filters,
    periodize,
)

Filters = tuple[list[list[torch.Tensor]], list[torch.Tensor]]
"""ψ of every scale j at the resolutions r it is used at (``psi[j][r]``: L x M/2^r x N/2^r); φ at r = 0..J-1."""


def scattering_channels(J: int, L: int, colours: int = 3) -> int:
    """Maps of the order-2 transform: ``colours · (1 + J·L + L²·J(J-1)/2)`` (243 for J = 2, L = 8, RGB)."""
    return colours * (1 + J * L + L * L * J * (J - 1) // 2)


def check_image_size(height: int, width: int, J: int) -> None:
    """Refuse image sides the transform cannot take: multiples of 2^J, at least 2^(J+1) (the reflect padding
    of 2^J pixels must be smaller than the side)."""
    step = 2**J
    if height % step or width % step or min(height, width) < 2 * step:
        raise ChimeraMixError(f"the scattering front end (J = {J}) needs image sides that are multiples of "
                              f"{step} and at least {2 * step} px, not {height} x {width}")


def fft(signal: torch.Tensor) -> torch.Tensor:
    """The 2-D FFT of a real ``... x M x N`` signal as a ``... x M x N x 2`` real tensor: products with the
    real filters and the tile means of subsampling stay real arithmetic (much faster than complex on a CPU)."""
    return torch.view_as_real(torch.fft.fft2(signal))


def subsample(spectrum: torch.Tensor, factor: int) -> torch.Tensor:
    """Subsampling by ``factor`` in space as periodisation in Fourier: the mean of the factor x factor tiles
    of a ``... x M x N x 2`` spectrum."""
    if factor == 1:
        return spectrum
    lead, (M, N) = spectrum.shape[:-3], spectrum.shape[-3:-1]
    m, n = M // factor, N // factor
    columns = spectrum.reshape(*lead, M, factor, 2 * n).sum(-2)
    return columns.reshape(*lead, factor, m, 2 * n).sum(-3).reshape(*lead, m, n, 2) / factor**2


def ifft(spectrum: torch.Tensor) -> torch.Tensor:
    """The inverse 2-D FFT of a ``... x M x N x 2`` spectrum, complex."""
    return torch.fft.ifft2(torch.view_as_complex(spectrum.contiguous()))


def complex_like(real_filter: torch.Tensor) -> torch.Tensor:
    """A real ``... x M x N`` filter as ``... x M x N x 2`` (expanded, no copy), to multiply spectra with: the
    gradient then reduces over the batch only, not over the real and imaginary parts (fast)."""
    return real_filter[..., None].expand(*real_filter.shape, 2)


def lowpass(spectrum: torch.Tensor, phi: torch.Tensor, factor: int) -> torch.Tensor:
    """``x ⋆ φ`` subsampled by ``factor``, back in space, its border pixel dropped (kymatio's unpad)."""
    return ifft(subsample(spectrum * complex_like(phi), factor)).real[..., 1:-1, 1:-1]


class Scattering(nn.Module):
    """``(B, C, H, W) -> (B, C·(1 + J·L + L²·J(J-1)/2), H/2^J, W/2^J)``, with learnable or fixed Morlet
    wavelets (see the module docstring)."""

    def __init__(self, J: int = 2, L: int = 8, *, learnable: bool = True, init: FilterInit = "tight-frame",
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.J, self.L, self.learnable = J, L, learnable
        for name, value in initial_parameters(J, L, init, generator)._asdict().items():
            if learnable:
                self.register_parameter(name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)
        self._cached: tuple[tuple[object, ...], Filters] | None = None
        self._lowpass: dict[tuple[tuple[int, int], torch.device], list[torch.Tensor]] = {}

    @property
    def parameters_of_wavelets(self) -> MorletParameters:
        """θ, ξ, σ, γ of the J·L wavelets (parameters, or buffers when fixed)."""
        values: list[torch.Tensor] = [getattr(self, name) for name in MorletParameters._fields]  # also under vmap
        return MorletParameters(*values)

    def wavelets(self, size: tuple[int, int]) -> torch.Tensor:
        """The J·L wavelets' Fourier filters on an M x N grid (``J·L x M x N``)."""
        return morlet_filters(self.parameters_of_wavelets, size)

    def filters(self, size: tuple[int, int], device: torch.device) -> Filters:
        """ψ and φ at every resolution the transform uses, for a padded input of ``size``."""
        J, L = self.J, self.L
        psi = self.wavelets(size).reshape(J, L, *size)
        return [[periodize(psi[j], r) for r in range(max(j, 1))] for j in range(J)], self.lowpass(size, device)

    def lowpass(self, size: tuple[int, int], device: torch.device) -> list[torch.Tensor]:
        """φ at the resolutions 0..J-1, computed once per padded size and device (it depends on nothing else,
        so neither a CUDA graph nor ``vmap`` ever sees it built)."""
        key = (size, device)
        if key not in self._lowpass or torch.jit.is_tracing():
            phi = lowpass_filter(self.J, size, device)
            self._lowpass[key] = [periodize(phi, r) for r in range(self.J)]
        return self._lowpass[key]

    def _filters(self, size: tuple[int, int], device: torch.device) -> Filters:
        """Rebuilt on every call in training mode (and while traced: each trace sees the same graph); cached in
        evaluation mode until the parameters change."""
        if self.training or torch.jit.is_tracing():
            self._cached = None
            return self.filters(size, device)
        key = (size, device, *((value.data_ptr(), value._version) for value in self.parameters_of_wavelets))
        if self._cached is None or self._cached[0] != key:
            with torch.no_grad():
                self._cached = (key, self.filters(size, device))
        return self._cached[1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        B, C, H, W = images.shape
        J = self.J
        check_image_size(H, W, J)
        with torch.autocast(images.device.type, enabled=False):
            padded = F.pad(images.float().reshape(B * C, 1, H, W), [2**J] * 4, mode="reflect")[:, 0]
            psi, phi = self._filters((padded.shape[-2], padded.shape[-1]), images.device)
            spectrum = fft(padded)
            outputs = [lowpass(spectrum, phi[0], 2**J)[:, None]]
            first: list[torch.Tensor] = []
            for j1 in range(J):
                modulus = ifft(subsample(spectrum[:, None] * complex_like(psi[j1][0]), 2**j1)).abs()
                first.append(fft(modulus))
                outputs.append(lowpass(first[j1], phi[j1], 2 ** (J - j1)))
            for j1 in range(J - 1):
                for t1 in range(self.L):
                    for j2 in range(j1 + 1, J):
                        wavelet = subsample(first[j1][:, t1, None] * complex_like(psi[j2][j1]), 2 ** (j2 - j1))
                        outputs.append(lowpass(fft(ifft(wavelet).abs()), phi[j2], 2 ** (J - j2)))
            coefficients = torch.cat(outputs, 1)
        return coefficients.reshape(B, -1, *coefficients.shape[-2:])
