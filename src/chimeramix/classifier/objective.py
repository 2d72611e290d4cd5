"""The classifier's objective: cross-entropy (or the cosine loss) of a model, one SGD step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from chimeramix.runtime import autocast
from chimeramix.train.objective import Objective


class ClassifierObjective(Objective):
    """``objective(inputs, targets)``: the model's loss on a batch. The forward pass runs under bf16 autocast
    when ``autocast_dtype`` is set (its cache off, as CUDA graph capture requires, which changes nothing here
    since every weight is cast once); the loss is computed in float32."""

    loss_names: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(self, model: nn.Module, criterion: nn.Module, autocast_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion
        self.autocast_dtype = autocast_dtype

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with autocast(inputs.device.type, self.autocast_dtype, cache=False):
            outputs = self.model(inputs)
        loss: torch.Tensor = self.criterion(outputs.float(), targets)
        return loss

    @staticmethod
    def step(objective: Callable[..., Any], optimizers: Mapping[str, torch.optim.Optimizer],
             *batch: torch.Tensor) -> torch.Tensor:
        """Forward pass, backward pass, one step of ``optimizers["sgd"]``."""
        inputs, targets = batch
        loss: torch.Tensor = objective(inputs, targets)
        optimizer = optimizers["sgd"]
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        return loss.detach()
