"""The mixing generator's objective (paper section 3.1, supplement C.1): one generator step, then one
discriminator step.

Per batch of same-class pairs (x1, x2) and masks m:

- generator step: x̂1 = g(f(x1)), x̂2 = g(f(x2)) (masks of ones and zeros), x̂ = g(f(x1) ⊙ m + f(x2) ⊙ (1 - m));
  L_G = α_rec (MSE(x̂1, x1) + MSE(x̂2, x2)) + α_per (L_lap(x̂1, x1) + L_lap(x̂2, x2)) + α_disc MSE(D(x̂), 1);
- discriminator step: L_D = MSE(D(x_real), 1) + MSE(D(x̂), 0), halved in the paper recipe (``mean``), summed in
  the released one; x_real = x1 or x2 (one coin per batch).

Under mixed precision (bf16 autocast on CUDA) the losses are computed in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Literal

import torch

from chimeramix.config import GeneratorConfig
from chimeramix.losses import adversarial_loss, laplacian_loss, reconstruction_loss
from chimeramix.masks import mix
from chimeramix.models.discriminator import PatchDiscriminator
from chimeramix.models.generator import MixingGenerator
from chimeramix.train.objectives import Objective, parameters_of


class AdversarialObjective(Objective):
    """The losses of generator G (f, g) and discriminator D, as one module.

    ``objective(x1, x2, mask, half="generator")`` returns ``(L_G, L_rec, L_lap, L_adv, x̂)`` and
    ``objective(x1, x2, x̂, real_is_x1, half="discriminator")`` returns ``L_D`` (x_real = x1 where ``real_is_x1``,
    else x2). The forward passes run under ``autocast()``, the losses in float32. One module for both halves,
    so that a pack of runs can call either through ``torch.func.vmap``.
    """

    loss_names: ClassVar[tuple[str, ...]] = ("loss_g", "rec", "lap", "adv", "loss_d")

    def __init__(self, generator: MixingGenerator, discriminator: PatchDiscriminator, config: GeneratorConfig,
                 autocast: Callable[[], AbstractContextManager[Any]]) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.weights = (config.w_rec, config.w_lap, config.w_adv)
        self.halve_discriminator_loss = config.discriminator_loss != "sum"
        self.autocast = autocast

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, third: torch.Tensor, real_is_x1: torch.Tensor | None = None,
                *, half: Literal["generator", "discriminator"]) -> Any:
        if half == "generator":
            return self.generator_losses(x1, x2, third)
        if real_is_x1 is None:
            raise ValueError("the discriminator's loss needs real_is_x1")
        return self.discriminator_loss(x1, x2, third, real_is_x1)

    def generator_losses(self, x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with self.autocast():
            e1, e2 = self.generator.encode(torch.cat([x1, x2])).chunk(2)
            x1_hat, x2_hat, mixed = self.generator.decode(torch.cat([e1, e2, mix(e1, e2, mask)])).chunk(3)
            fooled = self.discriminator(mixed)
        rec = reconstruction_loss(x1_hat, x1) + reconstruction_loss(x2_hat, x2)
        lap = laplacian_loss(x1_hat, x1) + laplacian_loss(x2_hat, x2)
        adv = adversarial_loss(fooled, real=True)
        w_rec, w_lap, w_adv = self.weights
        return w_rec * rec + w_lap * lap + w_adv * adv, rec, lap, adv, mixed

    def discriminator_loss(self, x1: torch.Tensor, x2: torch.Tensor, mixed: torch.Tensor,
                           real_is_x1: torch.Tensor) -> torch.Tensor:
        real = torch.where(real_is_x1, x1, x2)
        with self.autocast():
            judged_real, judged_fake = self.discriminator(torch.cat([real, mixed])).chunk(2)
        total = adversarial_loss(judged_real, real=True) + adversarial_loss(judged_fake, real=False)
        return total / 2 if self.halve_discriminator_loss else total

    @staticmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        """One generator step (gradients reach G's weights only), then one discriminator step; returns the
        losses of :attr:`loss_names`."""
        x1, x2, mask, real_is_x1 = batch
        loss_g, rec, lap, adv, mixed = objective(x1, x2, mask, half="generator")
        generator = optimizers["generator"]
        generator.zero_grad(set_to_none=True)
        loss_g.sum().backward(inputs=parameters_of(generator))
        generator.step()

        loss_d = objective(x1, x2, mixed.detach(), real_is_x1, half="discriminator")
        discriminator = optimizers["discriminator"]
        discriminator.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        discriminator.step()
        return torch.stack([loss_g, rec, lap, adv, loss_d], dim=-1).detach()
