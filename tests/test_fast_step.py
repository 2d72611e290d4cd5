"""The fast path's pieces (``chimeramix.train.fast``): the tensor learning rate, the graphed function, and on
CUDA (skipped on a CPU) that the trainers' graphed steps give what their eager steps give.

The trainers themselves are compared across the two paths on a CPU in ``test_fast_train.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from chimeramix.classifier.trainer import train_classifier
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.methods import parse_method
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.runtime import sgd_options
from chimeramix.train.fast import GraphedFunction, TensorLearningRates

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 6
LR = 0.05


def cosine(step: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * step / STEPS))


def test_tensor_lr_follows_the_scheduler() -> None:
    """SGD stepping with the lr tensors installed (as a captured step does) follows the LambdaLR
    trajectory of the float lr; the groups hold their floats again outside the capture."""
    torch.manual_seed(0)
    weights = torch.randn(5, 4)
    trajectories = []
    for tensor_lr in (False, True):
        parameter = nn.Parameter(weights.clone())
        optimizer = torch.optim.SGD([parameter], lr=LR, momentum=0.9, nesterov=True, weight_decay=1e-3)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
        lrs = TensorLearningRates([optimizer], torch.device("cpu"))
        for step in range(STEPS):
            optimizer.zero_grad(set_to_none=True)
            (parameter.square().sum() * (step + 1)).backward()
            if tensor_lr:
                with lrs.installed():
                    assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
                    assert float(lrs.tensors[0]) == pytest.approx(LR * cosine(step), rel=1e-6)
                    optimizer.step()
            else:
                optimizer.step()
            scheduler.step()
            assert isinstance(optimizer.param_groups[0]["lr"], float)
        trajectories.append(parameter.detach())
    torch.testing.assert_close(trajectories[1], trajectories[0], rtol=1e-6, atol=1e-7)


def test_graphed_function_on_cpu_is_the_function() -> None:
    calls: list[int] = []

    def function(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return x * 2

    graphed = GraphedFunction(function)
    assert torch.equal(graphed(torch.ones(3)), torch.full((3,), 2.0))
    assert len(calls) == 1 and graphed.graphs == 0
    with pytest.raises(ValueError, match="eager call"):
        GraphedFunction(function, warmup=0)


# ------------------------------------------------------------------------------------------------------ CUDA


def losses(log: list[dict[str, Any]], name: str) -> list[float]:
    return [row[name] for row in log]


@pytest.mark.cuda
@pytest.mark.parametrize("method", ["baseline", "chimeramix-grid", "chimeramix-seg-n3"])
def test_graphed_trainers_match_eager_trainers_on_cuda(tiny_data_root: Path, tmp_path: Path, method: str) -> None:
    """Captured and replayed steps (from step 4 on) give the eager trainer's losses (fp32, no autocast;
    kernels may differ in summation order, convolutions use TF32)."""
    data = DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root))
    generator = GeneratorConfig(data=data, masks=parse_method(method).generator_masks, blocks=2, mix_after=1,
                                base_channels=4, batch_size=8, repetition=8, epochs=2, device="cuda", amp=False)
    results: dict[bool, list[dict[str, Any]]] = {}
    for fast in (False, True):
        generator_dir = tmp_path / f"generator-{fast}"
        trained = train_generator(replace(generator, fast=fast), generator_dir, progress=False)
        classifier = ClassifierConfig(data=data, method=method, architecture="wrn-10-1", dropout=0.0, epochs=2,
                                      repetition=8, batch_size=8, cutout_size=4, device="cuda", amp=False,
                                      fast=fast, generator=str(generator_dir) if "chimeramix" in method else None)
        results[fast] = [trained, train_classifier(classifier, tmp_path / f"classifier-{fast}", progress=False)]
    for eager, graphed in zip(results[False], results[True]):
        name = "loss" if "metrics" in eager else "rec"
        assert losses(graphed["log"], name) == pytest.approx(losses(eager["log"], name), rel=1e-2)


@pytest.mark.cuda
def test_signatures_get_their_own_graphs_on_cuda() -> None:
    """One graph per input signature (shape and dtype); the lr tensor is refreshed before every replay."""
    cuda = torch.device("cuda")
    parameter = nn.Parameter(torch.ones(4, device=cuda))
    optimizer = torch.optim.SGD([parameter], lr=1.0, **sgd_options(cuda, fast=True))

    def step(x: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = (parameter * x.float()).sum()
        loss.backward()
        optimizer.step()
        return loss.detach()

    graphed = GraphedFunction(step, optimizers=[optimizer], warmup=1)
    expected = torch.ones(4)
    inputs: list[Callable[[], torch.Tensor]] = [lambda: torch.ones(4, device=cuda),
                                                lambda: torch.ones(2, 4, device=cuda),
                                                lambda: torch.ones(4, device=cuda, dtype=torch.half)]
    for round_ in range(3):
        for make in inputs:
            lr = 0.5**round_
            optimizer.param_groups[0]["lr"] = lr
            x = make()
            graphed(x)
            expected -= lr * x.float().cpu().reshape(-1, 4).sum(0)
            torch.testing.assert_close(parameter.detach().cpu(), expected)
    assert graphed.graphs == 3
