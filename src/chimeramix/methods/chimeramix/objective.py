"""The mixing generator's objective (paper section 3.1, supplement C.1): one generator step, then one
discriminator step.

Per batch of N same-class images x_1..x_N (N = 2: the pairs (x1, x2) of the paper) and weights M (for pairs
M = (m, 1 - m)):

- generator step: x̂_n = g(f(x_n)) (one-hot weights), x̂ = g(Σ_n M_n ⊙ f(x_n));
  L_G = α_rec Σ_n MSE(x̂_n, x_n) + α_per Σ_n L_lap(x̂_n, x_n) + α_disc MSE(D(x̂), 1);
- discriminator step: L_D = MSE(D(x_real), 1) + MSE(D(x̂), 0), halved in the paper recipe (``mean``), summed in
  the released one; x_real is one of the N images (one draw per batch); x̂ is the generator step's composite
  (``discriminator_composite = "reuse"``), or a fresh one under the batch's second weights, made by the
  just-updated generator (``fresh``: the authors' code, whose discriminator step draws a new mask).

Under mixed precision (bf16 autocast on CUDA) the losses are computed in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Literal

import torch

from chimeramix.losses import adversarial_loss, laplacian_loss, reconstruction_loss
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import blend
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.train.objective import Objective, parameters_of


class AdversarialObjective(Objective):
    """The losses of generator G (f, g) and discriminator D, as one module.

    ``images`` are the batch's N x B images as one (N B) x 3 x H x W tensor (image n of every group, then
    image n + 1), ``weights`` B x N x h x w. ``objective(images, weights, half="generator")`` returns
    ``(L_G, L_rec, L_lap, L_adv, x̂)`` and ``objective(images, x̂, real_index, fresh_weights,
    half="discriminator")`` returns ``L_D`` (x_real = the images at ``real_index``; x̂ made anew under
    ``fresh_weights`` when the composite is ``fresh``). The forward passes run under ``autocast()``, the losses in
    float32. One module for both halves, so that a pack of runs can call either through ``torch.func.vmap``.
    """

    loss_names: ClassVar[tuple[str, ...]] = ("loss_g", "rec", "lap", "adv", "loss_d")

    def __init__(self, generator: MixingGenerator, discriminator: PatchDiscriminator, config: GeneratorConfig,
                 autocast: Callable[[], AbstractContextManager[Any]]) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.weights = (config.w_rec, config.w_lap, config.w_adv)
        self.halve_discriminator_loss = config.discriminator_loss != "sum"
        self.fresh_composite = config.discriminator_composite == "fresh"
        self.autocast = autocast

    def forward(self, images: torch.Tensor, second: torch.Tensor, real_index: torch.Tensor | None = None,
                fresh_weights: torch.Tensor | None = None, *, half: Literal["generator", "discriminator"]) -> Any:
        if half == "generator":
            return self.generator_losses(images, second)
        if real_index is None or fresh_weights is None:
            raise ValueError("the discriminator's loss needs real_index and the fresh composite's weights")
        if self.fresh_composite:
            with torch.no_grad(), self.autocast():
                features = self.generator.encode(images)
                second = self.generator.decode(blend(features.unflatten(0, (fresh_weights.shape[1], -1)),
                                                     fresh_weights))
        return self.discriminator_loss(images, second, real_index)

    def generator_losses(self, images: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
        count = weights.shape[1]
        with self.autocast():
            features = self.generator.encode(images)
            mixed_features = blend(features.unflatten(0, (count, -1)), weights)
            decoded = self.generator.decode(torch.cat([features, mixed_features]))
            reconstructed, mixed = decoded[:len(images)], decoded[len(images):]
            fooled = self.discriminator(mixed)
        # Σ_n of a mean over image n's pixels = N x the mean over all N images' pixels (the N images have one size):
        # one pass over the batch instead of N
        rec = count * reconstruction_loss(reconstructed, images)
        lap = count * laplacian_loss(reconstructed, images)
        adv = adversarial_loss(fooled, real=True)
        w_rec, w_lap, w_adv = self.weights
        return w_rec * rec + w_lap * lap + w_adv * adv, rec, lap, adv, mixed

    def discriminator_loss(self, images: torch.Tensor, mixed: torch.Tensor, real_index: torch.Tensor) -> torch.Tensor:
        groups = images.chunk(images.shape[0] // mixed.shape[0])
        real = groups[0]
        for n, image in enumerate(groups[1:], start=1):
            real = torch.where(real_index == n, image, real)
        with self.autocast():
            judged_real, judged_fake = self.discriminator(torch.cat([real, mixed])).chunk(2)
        total = adversarial_loss(judged_real, real=True) + adversarial_loss(judged_fake, real=False)
        return total / 2 if self.halve_discriminator_loss else total

    @staticmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        """One generator step (gradients reach G's weights only), then one discriminator step; returns the
        losses of :attr:`loss_names`."""
        images, weights, discriminator_weights, real_index = batch
        loss_g, rec, lap, adv, mixed = objective(images, weights, half="generator")
        generator = optimizers["generator"]
        generator.zero_grad(set_to_none=True)
        loss_g.sum().backward(inputs=parameters_of(generator))
        generator.step()

        loss_d = objective(images, mixed.detach(), real_index, discriminator_weights, half="discriminator")
        discriminator = optimizers["discriminator"]
        discriminator.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        discriminator.step()
        return torch.stack([loss_g, rec, lap, adv, loss_d], dim=-1).detach()
