"""The ``cosine-loss`` method: the classifier trained with the cosine loss of Barz & Denzler (2020) instead of
cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chimeramix.config import ClassifierConfig
from chimeramix.methods.image_space.hooks import COSINE_LOSS_HOOKS


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


def cosine_criterion(config: ClassifierConfig, num_classes: int) -> CosineLoss:
    """The ``criterion`` hook of ``cosine-loss``: the loss, with its cross-entropy term when its settings say so."""
    return CosineLoss(num_classes, with_ce=COSINE_LOSS_HOOKS.settings_of(config).with_ce)
