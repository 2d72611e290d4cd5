"""GLICO's networks (Azuri & Weinshall 2020; ``shared/docs/baselines.md`` section 2): a latent table, the
generator G(z, code), the auxiliary classifier C of stage 1, and spherical interpolation.

- :class:`LatentGenerator`: one free latent code per training image (an embedding table, no encoder; unit
  norm), an optional bias-free projection of the noise code, and G, which divides its code by the code's norm
  (detached, as GLICO's). Up to 64 px (CIFAR, GLICO's ``_netG``): bias-free Linear(612 -> 1024), LeakyReLU 0.2,
  bias-free Linear(1024 -> 128 x s/4 x s/4), LeakyReLU 0.2, two 4x4 stride-2 transposed convolutions, sigmoid.
  Above (STL-10, GLICO's ``DCGAN_G_small``): the same two linear layers to 512 x s/8 x s/8, each followed by
  LeakyReLU 0.2, three 4x4 stride-2 transposed convolutions with batch norm and ReLU, a 3x3 convolution and tanh,
  whose output GLICO takes as the image itself (it is fitted to images in [0, 1], so only the upper half of
  tanh's range is used). Images come out in [0, 1] (STL-10: in (-1, 1), fitted to [0, 1]).
- :class:`AuxiliaryClassifier`: four [3x3 conv 64, batch norm, max-pool 2, LeakyReLU 0.1] blocks and a linear
  layer (GLICO's ``cnn``; it returns logits, and the objective applies GLICO's softmax before the cross-entropy).
- Both start from GLICO's ``weights_init`` (:func:`glico_init`): Xavier-normal weights (gain sqrt 2) for every
  linear and (transposed) convolution, PyTorch's default biases and batch norms.
- :func:`slerp`: per-sample spherical interpolation between unit codes (GLICO's code normalises across the
  batch instead, :func:`batch_normalised_slerp`; the per-sample one is what it intends).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LATENT_INIT_STD = 0.01


def unit(z: torch.Tensor) -> torch.Tensor:
    """``z`` scaled to unit L2 norm along its last dimension."""
    return z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def slerp(t: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-sample spherical interpolation of unit codes (B x D) at ratios ``t`` (B, or a scalar):
    ``[sin((1 - t) ω) z1 + sin(t ω) z2] / sin ω`` with ω the angle between z1 and z2; nearly parallel codes
    (sin ω < ``eps``) are interpolated linearly, which is the limit.

    >>> z = torch.eye(2)
    >>> slerp(torch.tensor(0.5), z[:1], z[1:]).tolist()  # half way along the quarter circle
    [[0.7071067690849304, 0.7071067690849304]]
    """
    z1, z2 = unit(z1), unit(z2)
    t = torch.as_tensor(t, dtype=z1.dtype, device=z1.device).reshape(-1, 1).expand(z1.shape[0], 1)
    omega = torch.arccos((z1 * z2).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    parallel = sin < eps
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t) * omega) * z1 + torch.sin(t * omega) * z2) / safe
    return torch.where(parallel, (1 - t) * z1 + t * z2, spherical)


def batch_normalised_slerp(t: float, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The interpolation of GLICO's released code, for comparison: norms and angles are taken along the batch
    (for each latent coordinate), not per sample."""
    a, b = z1 / z1.norm(dim=0, keepdim=True), z2 / z2.norm(dim=0, keepdim=True)
    omega = torch.arccos((a * b).sum(dim=0, keepdim=True).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    return (torch.sin((1 - t) * omega) * z1 + torch.sin(t * omega) * z2) / sin


def glico_init(module: nn.Module) -> None:
    """GLICO's ``weights_init``: Xavier-normal weights with gain sqrt 2 for every linear layer and (transposed)
    convolution of ``module``; biases and batch norms keep PyTorch's defaults."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_normal_(layer.weight, gain=2**0.5)


class LatentGenerator(nn.Module):
    """The latent table Z (n x ``latent_dim``, unit rows) and the generator: ``model(positions, codes)`` gives
    G(z_positions, codes); ``model.generate(z, codes)`` for any codes z (interpolations)."""

    def __init__(self, count: int, image_size: int, latent_dim: int = 512, noise_dim: int = 100,
                 noise_projection: bool = True) -> None:
        super().__init__()
        self.latents = nn.Parameter(unit(torch.randn(count, latent_dim) * LATENT_INIT_STD))
        self.noise_dim = noise_dim
        self.project_noise = (nn.Sequential(nn.Linear(noise_dim, noise_dim, bias=False), nn.LeakyReLU(0.2))
                              if noise_projection else nn.Identity())
        self.image_size = image_size
        side, channels = (image_size // 4, 128) if image_size <= 64 else (image_size // 8, 512)
        self.dense = nn.Sequential(nn.Linear(latent_dim + noise_dim, 1024, bias=False), nn.LeakyReLU(0.2),
                                   nn.Linear(1024, channels * side * side, bias=False), nn.LeakyReLU(0.2))
        if image_size <= 64:
            self.decode = nn.Sequential(nn.ConvTranspose2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                                        nn.ConvTranspose2d(64, 3, 4, 2, 1), nn.Sigmoid())
        else:
            layers: list[nn.Module] = []
            for in_channels, out_channels in ((512, 256), (256, 128), (128, 64)):
                layers += [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1), nn.BatchNorm2d(out_channels),
                           nn.ReLU()]
            self.decode = nn.Sequential(*layers, nn.Conv2d(64, 3, 3, padding=1), nn.Tanh())
        self.side, self.channels = side, channels
        glico_init(self)

    def generate(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Images (B x 3 x s x s) from latent codes z (B x D, divided here by their norm, which the gradient does
        not see) and noise codes."""
        normalised = z / z.norm(dim=-1, keepdim=True).detach().clamp_min(1e-12)
        hidden = self.dense(torch.cat([normalised, self.project_noise(codes)], dim=1))
        return self.decode(hidden.view(-1, self.channels, self.side, self.side))

    def forward(self, positions: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.generate(self.latents[positions], codes)

    @torch.no_grad()
    def project_latents(self) -> None:
        """Back onto the unit sphere, after every optimiser step."""
        self.latents.copy_(unit(self.latents))


class AuxiliaryClassifier(nn.Module):
    """GLICO's small classifier of stage 1, shaping the latent space: logits of images in [0, 1]."""

    def __init__(self, num_classes: int, image_size: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels, side = 3, image_size
        for _ in range(4):
            pool = side >= 2  # small images (tests, thumbnails) stop pooling at 1 x 1
            blocks += [nn.Conv2d(in_channels, 64, 3, padding=1), nn.BatchNorm2d(64),
                       nn.MaxPool2d(2) if pool else nn.Identity(), nn.LeakyReLU(0.1)]
            in_channels, side = 64, side // 2 if pool else side
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(64 * side * side, num_classes)
        glico_init(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))


def resize_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to ``size`` (for images whose side is not the generator's)."""
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
