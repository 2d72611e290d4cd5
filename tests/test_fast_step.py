"""The fast path (``chimeramix.train.fast``) computes what the reference path computes.

On a CPU the fast path runs its step eagerly, so these tests compare the reference loop (the classifier's
step as ``train_classifier`` wrote it: LambdaLR-scheduled SGD with a float lr) with the fast loop (the
step through :class:`GraphedFunction`, batches through :class:`SideStream`, the graphed compositions, the lr
as a tensor): same augmentation parameters, same losses, same final weights. The CUDA tests (skipped on a
CPU) check that replayed graphs match eager steps.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from chimeramix.masks import GridMasks
from chimeramix.methods import Augmentation, PairMixing, StepParams, channel_stats, parse_method
from chimeramix.models.classifiers import build_classifier
from chimeramix.models.generator import MixingGenerator
from chimeramix.train.fast import (
    GraphedFunction,
    GraphedPairMixing,
    SideStream,
    TensorLearningRates,
    classifier_update,
    sgd_options,
)

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 6
BATCH = 6
LR = 0.05
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


def cosine(step: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * step / STEPS))


def tiny_setup(device: torch.device, method: str, fast: bool) -> tuple[Augmentation, nn.Module,
                                                                         torch.optim.Optimizer]:
    """Data, augmentation (with a small random generator for ChimeraMix) and a WRN-10-1, all seeded."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 8, 8), dtype=torch.uint8).to(device)
    labels = torch.arange(12).remainder(3).to(device)
    mixing = None
    if parse_method(method).pair_mixing is not None:
        generator = MixingGenerator(blocks=2, mix_after=1, base_channels=4).to(device).eval()
        mixing = PairMixing(GridMasks(), mask_size=4, model=generator, working_size=16)
        if fast:
            mixing = GraphedPairMixing(mixing)
    mean, std = channel_stats(images)
    augmentation = Augmentation(parse_method(method), images, labels, num_classes=3, crop_padding=2,
                                cutout_size=4, mean=mean, std=std, pair_mixing=mixing)
    model = build_classifier("wrn-10-1", 3, dropout=0.3).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=5e-3,
                                **(sgd_options(device) if fast else {}))
    return augmentation, model, optimizer


Run = tuple[list[StepParams], list[float], dict[str, torch.Tensor]]


def run_reference(device: torch.device, method: str) -> Run:
    """The reference loop: augmentation, then the step written out as ``train_classifier`` writes it."""
    augmentation, model, optimizer = tiny_setup(device, method, fast=False)
    criterion = nn.CrossEntropyLoss()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
    rng = torch.Generator(device=device).manual_seed(7)
    torch.manual_seed(1)  # dropout
    params, losses = [], []
    for step in range(STEPS):
        positions = torch.arange(step, step + BATCH, device=device) % 12
        params.append(augmentation.sample(positions, rng))
        inputs, targets = augmentation.apply(params[-1])
        loss = criterion(model(inputs).float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    return params, losses, copy.deepcopy(model.state_dict())


def run_fast(device: torch.device, method: str) -> Run:
    """The fast loop: batches on the side stream, the step through a graphed function."""
    augmentation, model, optimizer = tiny_setup(device, method, fast=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
    step_fn = GraphedFunction(classifier_update(model, nn.CrossEntropyLoss(), optimizer, None),
                              optimizers=[optimizer], warmup=2)
    batches = SideStream(device)
    rng = torch.Generator(device=device).manual_seed(7)
    torch.manual_seed(1)
    params, losses = [], []
    for step in range(STEPS):
        positions = torch.arange(step, step + BATCH, device=device) % 12

        def prepare(positions: torch.Tensor = positions) -> tuple[torch.Tensor, ...]:
            params.append(augmentation.sample(positions, rng))  # the coin's .item() syncs the side stream only
            return augmentation.apply(params[-1])

        inputs, targets = batches.run(prepare)
        losses.append(float(step_fn(inputs, targets)))
        scheduler.step()
    if device.type == "cuda":
        assert step_fn.graphs == 1
    return params, losses, copy.deepcopy(model.state_dict())


def assert_same_params(a: list[StepParams], b: list[StepParams]) -> None:
    for first, second in zip(a, b, strict=True):
        for name, value in vars(first).items():
            other = getattr(second, name)
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other), name
            else:
                assert value == other, name


def assert_close_runs(reference: Run, fast: Run, tolerance: float) -> None:
    assert_same_params(reference[0], fast[0])
    assert fast[1] == pytest.approx(reference[1], rel=tolerance, abs=tolerance)
    for name, value in reference[2].items():
        torch.testing.assert_close(fast[2][name], value, rtol=tolerance, atol=tolerance, msg=name)


@pytest.mark.parametrize("method", ["baseline", "chimeramix-grid", "cutout"])
def test_fast_loop_matches_the_reference_on_cpu(method: str) -> None:
    cpu = torch.device("cpu")
    reference = run_reference(cpu, method)
    assert any(p.partners is not None for p in reference[0]) == (method == "chimeramix-grid")
    assert_close_runs(reference, run_fast(cpu, method), 1e-6)


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


@needs_cuda
@pytest.mark.parametrize("method", ["baseline", "chimeramix-grid"])
def test_graph_replays_match_eager_steps_on_cuda(method: str) -> None:
    """Captured and replayed steps (from step 3 on) give the reference's losses and weights (fp32, no
    autocast; kernels may differ in summation order, convolutions use TF32)."""
    cuda = torch.device("cuda")
    assert_close_runs(run_reference(cuda, method), run_fast(cuda, method), 1e-3)


@needs_cuda
def test_signatures_get_their_own_graphs_on_cuda() -> None:
    """One graph per input signature (shape and dtype); the lr tensor is refreshed before every replay."""
    cuda = torch.device("cuda")
    parameter = nn.Parameter(torch.ones(4, device=cuda))
    optimizer = torch.optim.SGD([parameter], lr=1.0, **sgd_options(cuda))

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
