"""The Inception network of FID: the TF graph ``inception-2015-12-05`` that clean-fid, torch-fidelity and
pytorch-fid use, loaded from a file the user supplies (it is never downloaded), and clean-fid's resize.

Accepted files (:func:`load_inception`; ``shared/docs/baselines.md`` section 4):

- a state dict in the layout of pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` or torch-fidelity's
  ``weights-inception-2015-12-05-6726825d.pth`` (torchvision's Inception-v3 names, a 1008-class ``fc``), read
  with ``torch.load(weights_only=True)`` into :class:`TFInception`;
- a TorchScript file like clean-fid's ``inception-2015-12-05.pt``, whose ``layers`` sub-module maps normalised
  299 x 299 images to the 2048 pool3 features.

:class:`TFInception` is torchvision's Inception-v3 up to the pool3 features with the pooling of the TF graph:
the average pools of the A, C and first E blocks leave the zero padding out of the mean, and the last E block
max-pools. Inputs are (x - 128) / 128 of 0..255 values at 299 x 299; :func:`clean_resize` brings images there
the way clean-fid's default mode does (PIL bicubic on each channel as a float image, clipped, not rounded).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models.inception import BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE

from chimeramix.errors import ChimeraMixError

INPUT_SIZE = 299
FEATURES = 2048
TF_CLASSES = 1008
"""The TF graph's classifier has 1008 outputs; torchvision's ImageNet Inception-v3 has 1000 (other weights:
FID values from it are not comparable)."""
FILE_NAMES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth",
              "inception-2015-12-05.pt")


def _average_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pool, stride 1, that divides by the unpadded neighbours only (the TF graph's)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class BlockA(InceptionA):
    """Inception block A (Mixed_5b-d) with the TF graph's average pool."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.branch_pool(_average_pool(x))]


class BlockC(InceptionC):
    """Inception block C (Mixed_6b-e) with the TF graph's average pool."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            double = conv(double)
        return [self.branch1x1(x), seven, double, self.branch_pool(_average_pool(x))]


class BlockE(InceptionE):
    """Inception block E (Mixed_7b: average pool as in the TF graph; Mixed_7c: ``max_pool``)."""

    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _average_pool(x)
        return [self.branch1x1(x), torch.cat([self.branch3x3_2a(three), self.branch3x3_2b(three)], 1),
                torch.cat([self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double)], 1), self.branch_pool(pooled)]


class TFInception(nn.Module):
    """The TF FID Inception: normalised N x 3 x 299 x 299 images -> N x 2048 pool3 features. Module names are
    torchvision's (those of the pytorch-fid and torch-fidelity state dicts); ``fc`` is kept so that such a
    state dict loads whole, and is not used."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, TF_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, kernel_size=3, stride=2)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class ScriptedInception(nn.Module):
    """The ``layers`` of a TorchScript Inception file (clean-fid's), giving N x 2048 features."""

    def __init__(self, layers: nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).reshape(len(x), -1)


def load_inception(path: str | os.PathLike[str]) -> nn.Module:
    """The FID Inception of a state dict or TorchScript file (see the module docstring), on the CPU in eval
    mode; a missing, damaged or foreign file is a one-line error that says which."""
    path = Path(path)
    names = ", ".join(FILE_NAMES)
    if not path.is_file():
        raise ChimeraMixError(f"Inception weights {path} do not exist; pass --inception with the path of one of "
                              f"{names} (see README: FID); chimeramix never downloads them")
    if zipfile.is_zipfile(path) and _is_torchscript(path):
        return _scripted(path).eval()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for damaged or foreign files
        raise ChimeraMixError(f"cannot read {path} as PyTorch weights ({type(error).__name__}); the file is damaged "
                              f"or not an Inception file: pass one of {names}") from None
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ChimeraMixError(f"{path} holds no state dict of tensors; pass one of {names}")
    fc = state.get("fc.weight")
    if fc is not None and tuple(fc.shape) == (1000, FEATURES):
        raise ChimeraMixError(f"{path} holds torchvision's ImageNet Inception-v3 (1000 classes), not the TF FID "
                              f"Inception (1008): its FID values are not comparable; pass one of {names}")
    network = TFInception()
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[1:2] or [str(error)]
        raise ChimeraMixError(f"{path} holds weights of another architecture than the TF FID Inception "
                              f"({first[0].strip()[:160]}); pass one of {names}") from None
    return network.eval()


def _is_torchscript(path: Path) -> bool:
    """Whether a zip archive is a TorchScript module (it holds code), not a ``torch.save`` file."""
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def _scripted(path: Path) -> nn.Module:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # TorchScript raises RuntimeError and others for damaged archives
        raise ChimeraMixError(f"cannot load the TorchScript file {path} ({type(error).__name__}); it is damaged: "
                              "copy it again") from None
    layers = getattr(module, "layers", None)
    if not isinstance(layers, nn.Module):
        raise ChimeraMixError(f"TorchScript file {path} has no `layers` module, so it is not clean-fid's Inception "
                              "(inception-2015-12-05.pt)")
    network = ScriptedInception(layers)
    with torch.inference_mode():
        shape = tuple(network(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)).shape)
    if shape != (1, FEATURES):
        raise ChimeraMixError(f"TorchScript file {path} gives features of shape {shape}, not (1, {FEATURES}): it is "
                              "another network than clean-fid's Inception")
    return network


def clean_resize(images: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 N x H x W x 3 images -> float32 N x size x size x 3 in [0, 255], as clean-fid's ``clean`` mode
    resizes: each channel as a PIL float image, bicubic, clipped to [0, 255] and not rounded."""
    resized = np.empty((len(images), size, size, 3), dtype=np.float32)
    for i, image in enumerate(images):
        for channel in range(3):
            plane = Image.fromarray(np.ascontiguousarray(image[..., channel], dtype=np.float32))
            resized[i, ..., channel] = np.asarray(plane.resize((size, size), resample=Image.Resampling.BICUBIC))
    return np.clip(resized, 0.0, 255.0)


def normalise(resized: np.ndarray) -> torch.Tensor:
    """Resized float images (N x H x W x 3, 0..255) as the Inception's input: N x 3 x H x W, (x - 128) / 128."""
    return torch.from_numpy(resized).permute(0, 3, 1, 2).sub(128.0).div(128.0)
