"""The hybrid classifier of Parametric Scattering Networks: the scattering front end, then the "modified
WideResNet that has more units in the first layers" (ChimeraMix footnote 3; PSN's top model ``cnn``, from
kymatio's ``cifar_small_sample`` example; ``shared/docs/baselines.md`` section 1).

Top model of width k on the 243 scattering maps (8 x 8 for 32 px images): affine BN(243) -> non-affine BN(243) ->
3x3 conv 243 -> 16k (no bias) -> BN -> ReLU -> 4 post-activation residual blocks at 32k channels -> 4 at 64k, all
with stride 1 (everything stays at 8 x 8), a 1x1 conv + BN projection on the first block of each stage, no
dropout -> adaptive average pooling to 2 x 2 -> linear(64k·4 -> classes). k = 8 has 22,597,232 parameters for
10 classes (WRN-16-8: 10,961,370): the "more units" are the 128-wide stem on the scattering maps.

>>> import torch
>>> model = ScatteringClassifier(Scattering(), ScatteringWideResNet(width=1, num_classes=10))
>>> model(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.methods.scattering.transform import Scattering, check_image_size, scattering_channels

BLOCKS_PER_STAGE = 4


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (1x1 conv + BN when the width changes), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + self.shortcut(x))


class ScatteringWideResNet(nn.Module):
    """The top model of width k on ``in_channels`` scattering maps (see the module docstring)."""

    def __init__(self, width: int, num_classes: int, in_channels: int = scattering_channels(2, 8)) -> None:
        super().__init__()
        if width < 1:
            raise ChimeraMixError(f"the scattering top model needs a width >= 1, not {width}")
        stem, middle, last = 16 * width, 32 * width, 64 * width
        self.input_norm = nn.Sequential(nn.BatchNorm2d(in_channels), nn.BatchNorm2d(in_channels, affine=False))
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(stem if index == 0 else middle, middle)
                                      for index in range(BLOCKS_PER_STAGE)),
                                    *(ResidualBlock(middle if index == 0 else last, last)
                                      for index in range(BLOCKS_PER_STAGE)))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(last * 4, num_classes)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.blocks(self.stem(self.input_norm(maps))))
        return self.fc(features.flatten(1))


class ScatteringClassifier(nn.Module):
    """``top(front(x))``: images (B x 3 x H x W) to logits; the front end's filter parameters are
    :meth:`front_end_parameters` (optimised without weight decay)."""

    onnx_unsupported = ("ONNX cannot export the scattering network (its transform uses complex torch.fft tensors); "
                        "use --format torchscript")
    """Why ``chimeramix export --format onnx`` refuses this network."""

    def __init__(self, front: Scattering, top: nn.Module) -> None:
        super().__init__()
        self.front = front
        self.top = top
        """The classification head on the front end's maps: the module that ends in the final layer ``fc``."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.top(self.front(images))

    def front_end_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of the front end (none when its filters are fixed)."""
        return list(self.front.parameters())


def build_network(width: int, num_classes: int, component: str | None, settings: dict[str, Any] | None,
                  image_size: int | None) -> ScatteringClassifier:
    """The network ``scattering-wrn-W``: learnable wavelets for ``scattering`` (and for loading weights, when
    ``component`` is ``None``), fixed ones for ``scattering-fixed``, initialised as ``settings`` say; the images
    must be large enough for the front end's scales."""
    front = Scattering(learnable=component != "scattering-fixed", init=(settings or {}).get("init", "tight-frame"))
    if image_size is not None:
        check_image_size(image_size, image_size, front.J)
    return ScatteringClassifier(front, ScatteringWideResNet(width, num_classes))
