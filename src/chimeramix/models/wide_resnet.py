"""Wide residual networks (Zagoruyko & Komodakis 2016), the paper's classifier for 32 px images.

WRN-d-w has three groups of ``(d - 4) / 6`` pre-activation basic blocks with 16w, 32w and 64w channels
(strides 1, 2, 2), a 3x3 stem with 16 channels, then BN-ReLU, global average pooling and a linear layer.
Dropout, when on, sits between the two convolutions of every block.

>>> net = WideResNet(depth=10, width=1, num_classes=10)
>>> net(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from chimeramix.errors import ChimeraMixError


class Dropout(nn.Dropout):
    """Dropout that draws its CPU masks with ``torch.rand_like`` (float32 uniforms, kept where ``>= p``) instead of
    ``bernoulli_``, which on a CPU is about twice as slow and took a quarter of a bf16 WRN-16-2 step at batch 10.
    The same distribution and scale (kept units times 1 / (1 - p)); other devices use PyTorch's own kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p in (0, 1) or x.device.type != "cpu":
            return super().forward(x)
        scale = (torch.rand_like(x, dtype=torch.float32) >= self.p).to(x.dtype).mul_(1 / (1 - self.p))
        return x * scale


class BasicBlock(nn.Module):
    """BN-ReLU-conv3x3-(dropout)-BN-ReLU-conv3x3 plus a shortcut (1x1 conv when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.dropout = Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = torch.relu(self.bn1(x))
        # The projection shortcut sees the activated input, as in the original WRN.
        residual = x if self.shortcut is None else self.shortcut(activated)
        out = self.conv1(activated)
        out = self.conv2(self.dropout(torch.relu(self.bn2(out))))
        return out + residual


class WideResNet(nn.Module):
    """WRN-``depth``-``width`` for ``num_classes`` classes; any input size (global average pooling)."""

    def __init__(self, depth: int, width: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0 or width < 1:
            raise ChimeraMixError(
                f"WRN-{depth}-{width} does not exist; use a depth of 6n + 4 (10, 16, 22, ...) and width >= 1"
            )
        blocks_per_group = (depth - 4) // 6
        channels = [16, 16 * width, 32 * width, 64 * width]
        self.stem = nn.Conv2d(3, channels[0], 3, 1, padding=1, bias=False)
        layers: list[nn.Module] = []
        for group, stride in enumerate((1, 2, 2)):
            for index in range(blocks_per_group):
                first = index == 0
                in_channels = channels[group] if first else channels[group + 1]
                layers.append(BasicBlock(in_channels, channels[group + 1], stride if first else 1, dropout))
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(channels[3])
        self.fc = nn.Linear(channels[3], num_classes)
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.bn(self.blocks(self.stem(x))))
        return self.fc(features.mean(dim=(2, 3)))
