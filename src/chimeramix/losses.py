"""Loss functions of the paper.

Generator (section 3.1, supplement C.1): L_G = α_rec L_rec + α_per L_lap + α_disc L_G,disc with
α_rec = 1000, α_per = α_disc = 1. Losses are computed in float32 whatever precision the networks ran in.
The other methods' losses are in their folders (:mod:`chimeramix.methods`), some built on
:func:`laplacian_loss`; the cosine loss is :mod:`chimeramix.methods.image_space.cosine_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN_LEVELS = 3


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One term ||x̂ - x||² of L_rec (eq. 2), as a mean squared error."""
    return F.mse_loss(x_hat.float(), x.float())


def binomial_kernel(
    channels: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The 5x5 binomial kernel ([1, 4, 6, 4, 1] ⊗ [1, 4, 6, 4, 1] / 256) for a depthwise convolution."""
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype)
    kernel = torch.outer(taps, taps) / 256.0
    return kernel.expand(channels, 1, 5, 5)


def laplacian_pyramid(x: torch.Tensor, levels: int = LAPLACIAN_LEVELS) -> list[torch.Tensor]:
    """Band-pass levels h_i = I_i - up(down(I_i)) of a Laplacian pyramid (Denton et al. 2015), I_0 = x,
    I_{i+1} = down(I_i); the low-pass residual is left out.

    down: binomial blur (reflect padding), keep every second pixel (a stride-2 convolution: the kept pixels'
    sums only). up: insert zeros, binomial blur x 4.
    """
    kernel = binomial_kernel(x.shape[1], x.device, x.dtype)
    bands = []
    current = x
    for _ in range(levels):
        down = F.conv2d(F.pad(current, (2, 2, 2, 2), mode="reflect"), kernel, stride=2, groups=x.shape[1])
        up = torch.zeros_like(current)
        up[..., ::2, ::2] = down * 4
        up = F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])
        bands.append(current - up)
        current = down
    return bands


def laplacian_loss(x_hat: torch.Tensor, x: torch.Tensor, levels: int = LAPLACIAN_LEVELS) -> torch.Tensor:
    """L_lap: the mean absolute difference of each pyramid level, summed over ``levels`` levels."""
    pairs = zip(laplacian_pyramid(x_hat.float(), levels), laplacian_pyramid(x.float(), levels), strict=True)
    return torch.stack([F.l1_loss(a, b) for a, b in pairs]).sum()


def adversarial_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean squared error between D's sigmoid output and the label (real 1, generated 0)."""
    prediction = prediction.float()
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction, target)
