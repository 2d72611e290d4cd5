"""Loss functions of the paper.

Generator (section 3.1, supplement C.1): L_G = α_rec L_rec + α_per L_lap + α_disc L_G,disc with
α_rec = 1000, α_per = α_disc = 1. Losses are computed in float32 whatever precision the networks ran in.
Classifier: the cosine loss of Barz & Denzler (2020), :class:`CosineLoss`. GLICO: its reconstruction
distances (:func:`reconstruction_distance`).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.errors import ChimeraMixError

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


# ------------------------------------------------------------------------------------------------ classifier


class CosineLoss(nn.Module):
    """Barz & Denzler (2020): ``1 - cos(f(x), φ(y))`` with one-hot class embeddings φ(y), batch mean.

    ``targets`` are class indices, or class probabilities (mixed labels), which then serve as φ(y). The
    model's C outputs are the embedding, so its arg max is the prediction. ``with_ce`` adds the authors'
    combined loss term ``ce_weight * CE(W f(x) / |f(x)|, y)``: cross-entropy of a linear layer (this module's
    only parameters; train them with the model) on the l2-normalised embedding.

    >>> loss = CosineLoss(3)
    >>> float(loss(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])))
    0.0
    """

    def __init__(self, num_classes: int, *, with_ce: bool = False, ce_weight: float = 0.1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.ce_weight = ce_weight
        self.ce_head = nn.Linear(num_classes, num_classes) if with_ce else None

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs = outputs.float()
        embedding = F.normalize(outputs, dim=1)
        if targets.dtype.is_floating_point:
            classes = F.normalize(targets.float(), dim=1)
        else:
            classes = F.one_hot(targets, self.num_classes).float()
        loss = (1 - (embedding * classes).sum(dim=1)).mean()
        if self.ce_head is not None:
            loss = loss + self.ce_weight * F.cross_entropy(self.ce_head(embedding), targets)
        return loss


# -------------------------------------------------------------------------------------------- GLICO distances

VGG_LAYERS = (3, 8, 12)
"""Outputs of VGG-16's ``features`` taken by GLICO's distance: conv1_2 and conv2_2 after their (in-place)
ReLU, conv3_2 before it, as torchvision's in-place ReLUs make GLICO's hooks at 2, 7, 12 read them."""


class PerceptualDistance(nn.Module):
    """GLICO's distance: mean |x̂ - x| plus the mean absolute differences of VGG-16 features (``VGG_LAYERS``)
    of the [-1, 1] images, with the weights of a torchvision VGG-16 state dict the user supplies (frozen)."""

    def __init__(self, weights: str | None) -> None:
        super().__init__()
        from torchvision.models import vgg16

        if not weights or not os.path.isfile(weights):
            raise ChimeraMixError(f"the perceptual distance needs --perceptual-weights FILE, a torchvision VGG-16 "
                                  f"state dict; {weights!r} is not a file")
        network = vgg16(weights=None)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            network.load_state_dict(state)
        except Exception as error:  # torch.load and load_state_dict raise many types for a wrong file
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise ChimeraMixError(f"{weights} is not a torchvision VGG-16 state dict ({reason}); save one with "
                                  "torch.save(torchvision.models.vgg16(...).state_dict(), FILE)") from None
        self.features = network.features[: max(VGG_LAYERS) + 1].eval().requires_grad_(False)

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        distance = F.l1_loss(x_hat, x)
        a, b = x_hat, x
        for index, layer in enumerate(self.features):
            a, b = layer(a), layer(b)
            if index in VGG_LAYERS:
                distance = distance + F.l1_loss(a, b)
        return distance


def reconstruction_distance(kind: str, weights: str | None = None) -> nn.Module:
    """GLICO's reconstruction distance d(x̂, x) on [-1, 1] images: ``laplacian`` (L1 plus ChimeraMix's L_lap),
    ``l1`` or ``perceptual`` (L1 plus VGG-16 features from ``weights``, as GLICO's code)."""
    if kind == "perceptual":
        return PerceptualDistance(weights)
    if kind == "laplacian":
        return LaplacianDistance()
    if kind == "l1":
        return nn.L1Loss()
    raise ChimeraMixError(f"unknown distance {kind!r}; use laplacian, l1 or perceptual")


class LaplacianDistance(nn.Module):
    """Mean |x̂ - x| plus :func:`laplacian_loss`: GLICO's distance with ChimeraMix's Laplacian-pyramid term in
    place of the VGG-16 features (the pyramid leaves the low-pass out, so the pixel term keeps the colours)."""

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        levels = sum(x.shape[-1] // 2**level >= 4 for level in range(LAPLACIAN_LEVELS))  # small images: fewer
        return F.l1_loss(x_hat, x) + laplacian_loss(x_hat, x, max(levels, 1))
