"""GLICO's stage-1 objective: reconstruct every training image from its own latent code, and classify the
reconstructions (Azuri & Weinshall 2020; ``shared/docs/baselines.md`` section 2).

Per batch of images x_i (in [0, 1], unaugmented) with labels y_i and fresh noise codes:
``L = d(2 G(z_i, code) - 1, 2 x_i - 1) + γ CE(softmax(C(G(z_i, code))), y_i)``; one backward pass, then an Adam
step on the latent codes, an Adam step on G, an SGD step on C, and the codes back onto the unit sphere.

The softmax before the cross-entropy (which applies its own) is GLICO's code: its classifier ends in a softmax.
It keeps the classification gradient small against the reconstruction's; with plain logits and γ = 0.5 the
classification term swamps the reconstruction on CIFAR-10 (measured: no fall of d in 42 steps, against 0.73 ->
0.54 without it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.methods.glico.networks import AuxiliaryClassifier, LatentGenerator, unit
from chimeramix.train.objective import Objective, parameters_of


class GlicoObjective(Objective):
    """``objective(positions, codes, images, labels)`` -> ``(L, d, CE)`` of a batch."""

    loss_names: ClassVar[tuple[str, ...]] = ("loss", "rec", "ce")

    def __init__(self, model: LatentGenerator, classifier: AuxiliaryClassifier, distance: nn.Module, gamma: float,
                 autocast: Callable[[], AbstractContextManager[Any]]) -> None:
        super().__init__()
        self.model = model
        self.classifier = classifier
        self._distance = (distance,)  # frozen (VGG-16 or none): not trained, stacked or checkpointed
        self.gamma = gamma
        self.autocast = autocast

    def forward(self, positions: torch.Tensor, codes: torch.Tensor, images: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with self.autocast():
            generated = self.model(positions, codes)
            logits = self.classifier(generated)
        generated = generated.float()
        rec = self._distance[0](2 * generated - 1, 2 * images - 1)
        ce = F.cross_entropy(logits.float().softmax(dim=-1), labels)  # GLICO's double softmax, see the docstring
        return rec + self.gamma * ce, rec, ce

    @staticmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        """One step of the codes, G and C; the codes are renormalised after it."""
        loss, rec, ce = objective(*batch)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        for optimizer in optimizers.values():
            optimizer.step()
        with torch.no_grad():
            for latents in parameters_of(optimizers["latents"]):
                latents.copy_(unit(latents))
        return torch.stack([loss, rec, ce], dim=-1).detach()
