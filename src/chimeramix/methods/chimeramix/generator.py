"""The mixing generator (paper section 3.1, supplement C.1): x̂ = g(f(x1) ⊙ m + f(x2) ⊙ (1 - m)), and for N
images x̂ = g(Σ_n M_n ⊙ f(x_n)).

A CycleGAN-style ResNet generator with instance norm, split into an encoder f and a decoder g after
``mix_after`` of its ``blocks`` residual blocks::

    f: reflect-pad 3, 7x7 conv 3->C, two 3x3 stride-2 convs C->2C->4C, residual blocks 1..mix_after
    g: residual blocks mix_after+1..blocks, two stride-2 transposed convs 4C->2C->C, 7x7 conv C->3, tanh

(C = ``base_channels``, 64 in the paper.) Images are in [-1, 1] at the generator's working size
(``GeneratorConfig.working_size``: 64 px for 32 px datasets, which :func:`resize_images` upsamples; 96 px for
STL-10); features are 4x smaller. Architecture ``paper`` runs all residual blocks and upsamples with 3x3
transposed convolutions, from CycleGAN's N(0, 0.02) initialisation; ``released`` reproduces the network the
authors' code effectively trained: its decoder has no residual block (a bug skipped them), upsamples with 2x2
stride-2 transposed convolutions without bias, and every layer keeps PyTorch's default initialisation (the
authors' code initialises nothing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.config import Architecture
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.masks import blend, resize_mask
from chimeramix.methods.chimeramix.settings import GeneratorConfig


class ReflectionPad(nn.ReflectionPad2d):
    """Reflection padding that keeps its input's dtype under autocast. CPU autocast runs reflection padding in
    float32, so every padded bf16 activation would be cast up and the convolution after it would cast it back
    down: the same values (padding only copies them) at about a tenth of a bf16 generator step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))) with reflect-padded 3x3 convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ReflectionPad(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            ReflectionPad(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def conv_norm_relu(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.InstanceNorm2d(channels), nn.ReLU(inplace=True)]


def upsample(in_channels: int, out_channels: int, architecture: Architecture) -> nn.ConvTranspose2d:
    """A transposed convolution that doubles height and width: 3x3 (``paper``) or 2x2 without bias
    (``released``)."""
    if architecture == "released":
        return nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)
    return nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)


class MixingGenerator(nn.Module):
    """Encoder f and decoder g of ChimeraMix; ``compose`` mixes two images' features under a mask."""

    def __init__(
        self,
        blocks: int = 4,
        mix_after: int = 2,
        architecture: Architecture = "paper",
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        if not 0 <= mix_after <= blocks:
            raise ChimeraMixError(f"mix_after must lie in 0..blocks, got mix_after = {mix_after}, "
                                  f"blocks = {blocks}")
        if architecture not in ("paper", "released"):
            raise ChimeraMixError(
                f"unknown generator architecture {architecture!r}; use 'paper' or 'released'"
            )
        self.blocks = blocks
        self.mix_after = mix_after
        self.architecture = architecture
        c = base_channels
        decoder_blocks = blocks - mix_after if architecture == "paper" else 0
        self.encoder = nn.Sequential(
            ReflectionPad(3),
            *conv_norm_relu(nn.Conv2d(3, c, 7), c),
            *conv_norm_relu(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), 2 * c),
            *conv_norm_relu(nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), 4 * c),
            *(ResidualBlock(4 * c) for _ in range(mix_after)),
        )
        self.decoder = nn.Sequential(
            *(ResidualBlock(4 * c) for _ in range(decoder_blocks)),
            *conv_norm_relu(upsample(4 * c, 2 * c, architecture), 2 * c),
            *conv_norm_relu(upsample(2 * c, c, architecture), c),
            ReflectionPad(3),
            nn.Conv2d(c, 3, 7),
            nn.Tanh(),
        )
        if architecture == "paper":
            self.apply(_init_weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Features e = f(x) of images in [-1, 1] (B x 3 x H x W -> B x 4C x H/4 x W/4)."""
        return self.encoder(x)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Images g(e) in [-1, 1]."""
        return self.decoder(features)

    def compose_features(self, e1: torch.Tensor, e2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """g(e1 ⊙ m + e2 ⊙ (1 - m)); ``mask`` is B x 1 x h x w in {0, 1}, at feature size or any other
        size (brought to the feature size by :func:`chimeramix.methods.chimeramix.masks.resize_mask`)."""
        mask = resize_mask(mask, e1.shape[-1]).to(e1.dtype)
        return self.decode(e1 * mask + e2 * (1 - mask))

    def compose(self, x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x̂ = g(f(x1) ⊙ m + f(x2) ⊙ (1 - m)) (eq. 1); m = 1 reconstructs x1, m = 0 reconstructs x2."""
        return self.compose_features(self.encode(x1), self.encode(x2), mask)

    def compose_images(self, images: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x̂ = g(Σ_n M_n ⊙ f(x_n)) of N x B x 3 x H x W images under B x N x h x w weights that sum to 1 over N
        (:func:`chimeramix.methods.chimeramix.masks.blend`); for two images the same values as :meth:`compose` of m =
        M_1."""
        return self.decode(blend(torch.stack([self.encode(x) for x in images]), weights))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.compose(x1, x2, mask)

    @classmethod
    def from_config(cls, config: GeneratorConfig) -> MixingGenerator:
        return cls(config.blocks, config.mix_after, config.architecture or "paper", config.base_channels)


def resize_images(images: torch.Tensor, size: int, *, align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize of B x C x H x W images to ``size`` x ``size``, e.g. 32 px data to the generator's
    64 px and the compositions back: antialiased when shrinking, or ``align_corners=True`` without antialias
    as the released code resizes the classifier's batches."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    if align_corners:
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=True)
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=images.shape[-1] > size)


def _init_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases, as in CycleGAN."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
