"""The fast GPU path: the same training steps, launched as CUDA graphs (issue #6).

At the protocol's batch sizes (10 images for the classifier, 64 for the generator) a GPU waits on kernel
launches, not on arithmetic. This module changes how a step is launched, never what it computes:

- :class:`GraphedFunction` calls a step function eagerly for its first ``warmup`` calls per input signature
  (real steps, on a side stream as capture requires), then captures it in a CUDA graph and replays the
  graph; on a CPU it simply calls the function, so the CPU path is the reference path.
- While a step is captured the optimisers' learning rates are device tensors, refreshed from the
  schedulers' Python values before every replay; optimisers, schedulers and checkpoints stay as they are.
  SGD is fused and Adam capturable on CUDA (:func:`chimeramix.runtime.sgd_options`, ``adam_options``), the two
  implementations that read a tensor lr without a host sync.
- :class:`SideStream` prepares batches on their own CUDA stream, so that the host syncs of an augmentation
  (the pair-mixing coin) wait for the augmentation only, not for the training step in flight.

Every CUDA graph is captured on a stream of its own and never shares a memory pool: graphs captured on one
stream share that stream's cuBLAS workspace, which breaks when they replay concurrently (the compositions
run beside the classifier step) or when one of them is freed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

WARMUP_CALLS = 3
"""Eager calls per input signature before the capture (the first optimiser step creates its state)."""

Signature = tuple[tuple[tuple[int, ...], torch.dtype], ...]


class TensorLearningRates:
    """One float32 device tensor per optimiser parameter group, mirroring the group's Python ``lr``.

    :meth:`installed` puts the tensors into the groups for the duration of a capture, so that the captured
    optimiser step reads its lr from them; :meth:`refresh` copies the groups' current values (set by the
    schedulers) into the tensors before a replay.
    """

    def __init__(self, optimizers: Iterable[torch.optim.Optimizer], device: torch.device) -> None:
        self.groups = [group for optimizer in optimizers for group in optimizer.param_groups]
        self.tensors = [torch.tensor(float(group["lr"]), device=device) for group in self.groups]
        self._values = [float(group["lr"]) for group in self.groups]

    def refresh(self) -> None:
        """Copy every group's lr into its tensor (one small kernel per changed value)."""
        for index, (group, tensor) in enumerate(zip(self.groups, self.tensors)):
            value = float(group["lr"])
            if value != self._values[index]:
                tensor.fill_(value)
                self._values[index] = value

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The groups hold the tensors (refreshed) instead of their floats until the block ends."""
        self.refresh()
        floats = [group["lr"] for group in self.groups]
        for group, tensor in zip(self.groups, self.tensors):
            group["lr"] = tensor
        try:
            yield
        finally:
            for group, value in zip(self.groups, floats):
                group["lr"] = value


@dataclass
class _Entry:
    """The static buffers and, once captured, the graph of one input signature."""

    inputs: list[torch.Tensor]
    stream: torch.cuda.Stream
    calls: int = 0
    graph: torch.cuda.CUDAGraph | None = None
    output: Any = field(default=None)


class GraphedFunction:
    """``function(*tensors)`` called through CUDA graphs, one graph per input signature (shapes, dtypes).

    The first ``warmup`` calls of a signature run eagerly on the signature's own stream; the next one
    captures the function into a graph on that stream and replays it, and later calls copy their inputs into
    the static buffers and replay. Every call does what ``function`` does, so a training step can be
    graphed: pass its ``optimizers`` (gradients are set to ``None`` before the capture, so the captured
    backward pass allocates them; their learning rates become device tensors, see
    :class:`TensorLearningRates`). What the function returns must be tensors (or a tuple of tensors) that
    the next call may overwrite: consume them before calling again. CPU inputs call ``function`` directly.

    ``function`` must be graph-safe: no host syncs, no CPU-side randomness or decisions that differ between
    calls, only the default CUDA generator, and autocast with ``cache_enabled=False`` (or on tensors that do
    not require grad).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        optimizers: Iterable[torch.optim.Optimizer] = (),
        warmup: int = WARMUP_CALLS,
    ) -> None:
        if warmup < 1:
            raise ValueError("a graphed function needs at least one eager call before the capture")
        self.function = function
        self.optimizers = tuple(optimizers)
        self.warmup = warmup
        self._entries: dict[Signature, _Entry] = {}
        self._lrs: TensorLearningRates | None = None

    @property
    def graphs(self) -> int:
        """Number of captured graphs."""
        return sum(entry.graph is not None for entry in self._entries.values())

    def __call__(self, *inputs: torch.Tensor) -> Any:
        if not inputs[0].is_cuda:
            return self.function(*inputs)
        entry = self._entry(inputs)
        for buffer, tensor in zip(entry.inputs, inputs):
            buffer.copy_(tensor)
        entry.calls += 1
        if entry.graph is None and entry.calls > self.warmup:
            self._capture(entry)
        if entry.graph is None:
            return self._eager(entry)
        if self._lrs is not None:
            self._lrs.refresh()
        entry.graph.replay()
        return entry.output

    def _entry(self, inputs: tuple[torch.Tensor, ...]) -> _Entry:
        signature = tuple((tuple(tensor.shape), tensor.dtype) for tensor in inputs)
        entry = self._entries.get(signature)
        if entry is None:
            entry = _Entry([torch.empty_like(tensor) for tensor in inputs], torch.cuda.Stream(inputs[0].device))
            self._entries[signature] = entry
        return entry

    def _eager(self, entry: _Entry) -> Any:
        current = torch.cuda.current_stream(entry.stream.device)
        entry.stream.wait_stream(current)
        with torch.cuda.stream(entry.stream):
            output = self.function(*entry.inputs)
        current.wait_stream(entry.stream)
        return output

    def _capture(self, entry: _Entry) -> None:
        device = entry.stream.device
        if self._lrs is None and self.optimizers:
            self._lrs = TensorLearningRates(self.optimizers, device)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        learning_rates = self._lrs.installed() if self._lrs is not None else nullcontext()
        with learning_rates, torch.cuda.graph(graph, stream=entry.stream):
            entry.output = self.function(*entry.inputs)
        entry.graph = graph


# ------------------------------------------------------------------------------------------------- batches


class SideStream:
    """Runs batch preparation on a CUDA stream of its own; on a CPU (or not ``enabled``) it just calls the
    function.

    :meth:`run` returns tensors the current stream may use at once (it waits for the side stream's work so
    far, without blocking the host). Host syncs inside the function (``.item()``) then wait for the batch
    preparation only, not for the training step that the current stream is running: the next batch is made
    while the step runs.
    """

    def __init__(self, device: torch.device, *, enabled: bool = True) -> None:
        self.stream = torch.cuda.Stream(device) if enabled and device.type == "cuda" else None
        if self.stream is not None:
            self.stream.wait_stream(torch.cuda.current_stream(device))  # the data and models made so far

    def run(self, function: Callable[[], tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
        """``function()`` on the side stream, made ready for the current stream."""
        if self.stream is None:
            return function()
        with torch.cuda.stream(self.stream):
            outputs = function()
        current = torch.cuda.current_stream(self.stream.device)
        current.wait_stream(self.stream)
        for tensor in outputs:
            tensor.record_stream(current)  # the side stream must not reuse their memory before it is read
        return outputs
