"""SuperMix's mask optimisation (Dabouei et al. 2021; ``shared/docs/baselines.md`` section 3): K images mixed
under per-pixel masks that a frozen teacher optimises, batched on the device.

For a batch x of B images (floats in [0, 1]) the i-th mix takes x_i, x_{i+1}, ..., x_{i+K-1} (cyclic shift of the
batch, as SuperMix's code) and the teacher's predicted classes c_k of those images. With lambda ~ Dirichlet(alpha
1_K) the target is t = sum_k lambda_k onehot(c_k). Mask logits z (B x K x w x w, zero at the start: a uniform
blend) become masks m = sigmoid(upsample(z)) / sum_k sigmoid(upsample(z)) (bilinear, so the K masks sum to 1 at
every pixel) and the mix is sum_k m_k x_k. Each iteration evaluates the per-sample loss

    L = KL(t || softmax(teacher(mix))) + lambda_s mean |m (m - 1)|

and takes a Newton-like step on the samples that are not yet successful: g = dL/dz, g^ = g smoothed by a
separable Gaussian (sigma cells, int(5 sigma) taps, zero padding), s = |L| / (<g, g^> + 1e-10) clamped to
[1e-4, 2000], z <- z - s g^. A mix is successful when the sorted top-K classes of teacher(mix) equal the sorted
top-K classes of t. As in SuperMix's ``mix_batch``, every mix starts unsuccessful, so each gets at least one
update (the uniform blend is never kept as it is); success is judged after every update. The loop stops when at
most ``tolerance`` of the batch is unsuccessful, or after ``max_iterations`` updates; only successful mixes are
kept, labelled with the teacher's class of the mix.

The only randomness is lambda, drawn by :meth:`SuperMix.sample` from a seeded ``torch.Generator`` (Gamma samples
normalised: :func:`chimeramix.gamma.sample_gamma`); :meth:`SuperMix.mix` is deterministic given
lambda.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.gamma import sample_gamma
from chimeramix.image_ops import normalize
from chimeramix.methods.supermix.settings import SuperMixConfig
from chimeramix.runtime import autocast

STEP_RANGE = (1e-4, 2000.0)
"""The clamp of the Newton-like step size s."""


@dataclass
class Mixes:
    """What one mask optimisation made of a batch of B images."""

    images: torch.Tensor
    """The successful mixes, n x 3 x H x W in [0, 1]."""
    labels: torch.Tensor
    """The teacher's class of each successful mix (n)."""
    success: torch.Tensor
    """Which of the B mixes succeeded (B booleans)."""
    masks: torch.Tensor
    """The final masks of all B mixes, B x K x H x W (they sum to 1 over K)."""
    iterations: int
    """Updates made."""


class SuperMix:
    """Mixes of K images under masks optimised by ``teacher`` (a classifier of images normalised with ``mean`` and
    ``std``, put in eval mode and frozen). ``autocast_dtype``: the teacher's forward pass in that precision."""

    def __init__(self, teacher: nn.Module, config: SuperMixConfig, *, mean: torch.Tensor, std: torch.Tensor,
                 autocast_dtype: torch.dtype | None = None) -> None:
        if config.images < 2:
            raise ChimeraMixError(f"SuperMix mixes K >= 2 images, got {config.images}; use 2 or more")
        if config.mask_size is None:
            raise ValueError("SuperMix needs a resolved config (mask_size)")
        self.teacher = teacher.eval().requires_grad_(False)
        self.config = config
        self.images = config.images
        self.mean = mean
        self.std = std
        self.autocast_dtype = autocast_dtype
        taps = max(int(5 * config.sigma), 1)
        offsets = torch.arange(taps, dtype=torch.float32) - (taps - 1) / 2
        kernel = torch.exp(-0.5 * (offsets / config.sigma) ** 2)
        self.kernel = kernel / kernel.sum()

    # ------------------------------------------------------------------------------------------- sampling

    def sample(self, count: int, rng: torch.Generator) -> torch.Tensor:
        """The Dirichlet(alpha 1_K) mixing weights lambda of ``count`` mixes (count x K)."""
        gamma = sample_gamma(self.config.alpha, (count, self.images), rng)
        return gamma / gamma.sum(dim=1, keepdim=True)

    # ------------------------------------------------------------------------------------------- applying

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's float32 logits of float images in [0, 1]."""
        with autocast(images.device.type, self.autocast_dtype):
            logits: torch.Tensor = self.teacher(normalize(images, self.mean.to(images.device),
                                                          self.std.to(images.device)))
        return logits.float()

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's classes of float images in [0, 1]."""
        with torch.no_grad():
            return self.logits(images).argmax(dim=1)

    def groups(self, images: torch.Tensor) -> torch.Tensor:
        """B x K x 3 x H x W: image i with its partners i + 1, ..., i + K - 1 (mod B)."""
        return torch.stack([images.roll(-shift, dims=0) for shift in range(self.images)], dim=1)

    def targets(self, classes: torch.Tensor, weights: torch.Tensor, num_classes: int) -> torch.Tensor:
        """t = sum_k lambda_k onehot(c_k): B x C, from the B classes of the batch and the B x K weights."""
        grouped = torch.stack([classes.roll(-shift) for shift in range(self.images)], dim=1)
        return torch.zeros(len(classes), num_classes, device=weights.device).scatter_add_(1, grouped, weights)

    def masks(self, logits: torch.Tensor, size: int) -> torch.Tensor:
        """m: B x K x size x size masks from B x K x w x w logits (bilinear, sigmoid, normalised over K)."""
        upsampled = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False).sigmoid()
        return upsampled / upsampled.sum(dim=1, keepdim=True)

    def smooth(self, gradient: torch.Tensor) -> torch.Tensor:
        """g^: the B x K x w x w gradient smoothed by the separable Gaussian, zero-padded."""
        batch, images, height, width = gradient.shape
        flat = gradient.reshape(batch * images, 1, height, width)
        kernel = self.kernel.to(gradient)
        flat = F.conv2d(flat, kernel.view(1, 1, -1, 1), padding="same")
        flat = F.conv2d(flat, kernel.view(1, 1, 1, -1), padding="same")
        return flat.view_as(gradient)

    def successful(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Whether the sorted top-K classes of the teacher's logits equal those of the targets (B booleans)."""
        top = logits.topk(self.images, dim=1).indices.sort(dim=1).values
        wanted = targets.topk(self.images, dim=1).indices.sort(dim=1).values
        return (top == wanted).all(dim=1)

    def mix(self, images: torch.Tensor, weights: torch.Tensor) -> Mixes:
        """Optimise the masks of the B mixes of ``images`` (B x 3 x H x W in [0, 1], B >= K) with the weights
        lambda (B x K, from :meth:`sample`); see the module docstring."""
        if len(images) < self.images:
            raise ChimeraMixError(f"SuperMix mixes K = {self.images} images but the batch holds {len(images)}; "
                                  "use a batch of at least K images")
        size = images.shape[-1]
        config = self.config
        assert config.mask_size is not None
        group = self.groups(images)
        with torch.no_grad():
            logits = self.logits(images)
        targets = self.targets(logits.argmax(dim=1), weights, logits.shape[1])
        log_targets = targets.clamp_min(1e-30).log()
        z = torch.zeros(len(images), self.images, config.mask_size, config.mask_size, device=images.device)
        success = torch.zeros(len(images), dtype=torch.bool, device=images.device)  # none before an update
        iterations = 0
        while True:
            z.requires_grad_(True)
            masks = self.masks(z, size)
            mixes = (masks[:, :, None] * group).sum(dim=1)
            logits = self.logits(mixes)
            divergence = (targets * (log_targets - logits.log_softmax(dim=1))).sum(dim=1)
            loss = divergence + config.sparsity * (masks * (masks - 1)).abs().flatten(1).mean(dim=1)
            if iterations:  # the masks after the last update; the uniform blend is never judged
                success = self.successful(logits.detach(), targets)
            if iterations == config.max_iterations or (~success).sum() <= config.tolerance * len(images):
                break
            (gradient,) = torch.autograd.grad(loss.sum(), z)
            smoothed = self.smooth(gradient)
            inner = (gradient * smoothed).flatten(1).sum(dim=1)
            step = (loss.detach().abs() / (inner + 1e-10)).clamp(*STEP_RANGE)
            step = torch.where(success, torch.zeros_like(step), step)
            z = (z.detach() - step.view(-1, 1, 1, 1) * smoothed).detach()
            iterations += 1
        mixes, masks = mixes.detach(), masks.detach()
        return Mixes(mixes[success], logits.detach().argmax(dim=1)[success], success, masks, iterations)
