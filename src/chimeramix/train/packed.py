"""Several classifier runs trained as one batched model: a *pack* (issue #6, concurrent runs on one GPU).

At the protocol's batch size (10 images) one WRN-16-8 step leaves a GPU mostly idle, and the five splits of a
table cell differ only in their data. A pack trains G runs whose configs are equal except for the split seed
(and therefore the generator) in lock-step:

- their weights and buffers are stacked along a new leading dimension (``torch.func.stack_module_state``), and
  one step runs the G forward passes as one ``torch.func.vmap`` of the model (a convolution becomes one
  grouped convolution: the kernel launches of one run do the work of G);
- the loss is the sum of the G runs' losses, so the gradient of each run's weights is that run's own, and one
  SGD steps them all (SGD with momentum and weight decay is elementwise: this is G SGDs);
- each run keeps its own data, epoch order, augmentation RNG, run directory, log, checkpoints and result,
  written as :func:`~chimeramix.train.classifier.train_classifier` writes them (through the same
  :class:`~chimeramix.train.classifier.ClassifierRun`): a packed run resumes alone, and a lone run in a pack.

What differs from a lone run: the dropout masks of a pack come from one global stream (``vmap(...,
randomness="different")``), so runs with dropout are statistically, not bitwise, equal to lone runs; without
dropout they agree to floating-point tolerance (grouped and plain convolutions sum in other orders). The
result records ``pack_size``; its ``wall_seconds`` is the pack's wall time, shared by its runs.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from functools import partial
from itertools import groupby
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from chimeramix.config import ClassifierConfig, differences, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.train.classifier import ClassifierRun, open_run, resolve
from chimeramix.train.fast import GraphedFunction, SideStream, classifier_update, sgd_options

PACK_VARYING = frozenset({"data.seed", "generator"})
"""Config fields that may differ between the runs of a pack."""


def pack_key(config: ClassifierConfig) -> dict[str, Any]:
    """What runs of one pack share: the resolved config without :data:`PACK_VARYING`."""
    values = to_dict(resolve(config))
    values["data"] = {key: value for key, value in values["data"].items() if f"data.{key}" not in PACK_VARYING}
    return {key: value for key, value in values.items() if key not in PACK_VARYING}


class StackedModules:
    """G modules of one architecture as stacked parameters and buffers, called through ``vmap``.

    ``stacked(x)`` with ``x`` of shape ``G x ...`` returns ``G x ...``: module g applied to ``x[g]``. The
    stacked parameters are new leaf tensors (optimise them, not the modules'); :meth:`unstack_into` copies
    their values back into the modules.

    >>> modules = [nn.Linear(3, 2) for _ in range(4)]
    >>> stacked = StackedModules(modules)
    >>> out = stacked(torch.ones(4, 5, 3))
    >>> out.shape, bool(torch.allclose(out[1], modules[1](torch.ones(5, 3))))
    (torch.Size([4, 5, 2]), True)
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.size = len(modules)
        self.parameters, self.buffers = stack_module_state(list(modules))
        self.template = copy.deepcopy(modules[0]).to("meta")
        self.template.train(modules[0].training)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        batched: torch.Tensor = vmap(self._call_one, randomness="different")(self.parameters, self.buffers,
                                                                           *inputs)
        return batched

    def _call_one(self, parameters: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                  *inputs: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = functional_call(self.template, (parameters, buffers), inputs)
        return output

    @torch.no_grad()
    def unstack_into(self, modules: Sequence[nn.Module]) -> None:
        """Copy member g's parameters and buffers into ``modules[g]``."""
        for index, module in enumerate(modules):
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                stacked = self.parameters[name] if name in self.parameters else self.buffers[name]
                tensor.copy_(stacked[index])


def train_classifier_pack(
    configs: Sequence[ClassifierConfig],
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train the runs of ``configs`` into ``run_dirs`` as packs; returns their results in order.

    The configs may differ only in :data:`PACK_VARYING`. ``resume`` continues every run from its latest
    checkpoint (finished runs return their stored result); runs at different epochs train as separate packs.
    """
    if len(configs) != len(run_dirs) or not configs:
        raise ValueError("train_classifier_pack needs one run directory per config, and at least one config")
    check_packable(configs)
    opened = [open_run(config, run_dir, resume=resume) for config, run_dir in zip(configs, run_dirs)]
    results = {index: run for index, run in enumerate(opened) if not isinstance(run, ClassifierRun)}
    pending = [(index, run) for index, run in enumerate(opened) if isinstance(run, ClassifierRun)]
    pending.sort(key=lambda item: item[1].start_epoch)
    for _, group in groupby(pending, key=lambda item: item[1].start_epoch):
        members = list(group)
        for (index, _), result in zip(members, train_pack([run for _, run in members], progress=progress)):
            results[index] = result
    return [results[index] for index in range(len(configs))]


def check_packable(configs: Sequence[ClassifierConfig]) -> None:
    """Refuse configs that differ in more than :data:`PACK_VARYING`, naming the fields."""
    first = pack_key(configs[0])
    for config in configs[1:]:
        differing = differences(first, pack_key(config))
        if differing:
            raise ChimeraMixError(
                f"runs of one pack may differ only in {sorted(PACK_VARYING)}, not in {', '.join(differing)}; "
                "train them in separate packs"
            )


def train_pack(runs: Sequence[ClassifierRun], *, progress: bool = True) -> list[dict[str, Any]]:
    """Train opened runs (one config up to :data:`PACK_VARYING`, all at the same epoch) in lock-step."""
    first = runs[0]
    config, device = first.config, first.device
    for run in runs:
        run.model.train()
        run.pack_size = len(runs)
    model = StackedModules([run.model for run in runs])
    criterion = StackedModules([run.criterion for run in runs])
    optimizer = torch.optim.SGD([*model.parameters.values(), *criterion.parameters.values()],
                                lr=first.scheduler.get_last_lr()[0], momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=float(config.weight_decay or 0.0),
                                **(sgd_options(device) if config.fast else {}))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, first.scheduler.lr_lambdas[0])
    scheduler.load_state_dict(first.scheduler.state_dict())  # the runs' schedule, at their step
    _stack_momentum(runs, model, criterion, optimizer)
    update = classifier_update(model, criterion, optimizer, first.amp_dtype)
    train_step = GraphedFunction(update, optimizers=[optimizer]) if config.fast else update
    batches = SideStream(device, enabled=config.fast)
    bar = tqdm(total=first.total_steps, initial=first.step, desc=f"classifier {first.method.name} x{len(runs)}",
               unit="step", disable=not progress, dynamic_ncols=True)
    for epoch in range(first.start_epoch, config.epochs):
        started = time.perf_counter()
        total_losses = torch.zeros(len(runs), device=device)
        for positions in zip(*(run.epoch_batches(epoch) for run in runs), strict=True):
            inputs, targets = batches.run(partial(_packed_batch, runs, positions))
            total_losses += train_step(inputs, targets)
            scheduler.step()
            for run in runs:
                run.step += 1
            bar.update(1)
        _hand_back(runs, model, criterion, optimizer, scheduler)
        seconds = time.perf_counter() - started
        for run, total_loss in zip(runs, total_losses.tolist()):
            run.end_epoch(epoch, total_loss / run.per_epoch, seconds)
        bar.set_postfix(loss=f"{float(total_losses.mean()) / first.per_epoch:.4f}", refresh=False)
    bar.close()
    return [run.finish() for run in runs]


def _packed_batch(runs: Sequence[ClassifierRun], positions: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Every run's augmented batch (from its own RNG), stacked."""
    return stack_batches([run.augmentation(where, run.rng) for run, where in zip(runs, positions)])


def stack_batches(batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """G (inputs, targets) batches as one pack batch: ``G x B x 3 x H x W`` inputs, ``G x B (x C)`` targets."""
    return torch.stack([inputs for inputs, _ in batches]), torch.stack([targets for _, targets in batches])


def _parameter_pairs(
    runs: Sequence[ClassifierRun], model: StackedModules, criterion: StackedModules
) -> list[tuple[torch.Tensor, list[nn.Parameter]]]:
    """(stacked parameter, the runs' parameters it holds), for the model's and the criterion's parameters."""
    pairs = []
    for stack, members in ((model, [run.model for run in runs]), (criterion, [run.criterion for run in runs])):
        named = [dict(member.named_parameters()) for member in members]
        pairs += [(stacked, [parameters[name] for parameters in named]) for name, stacked in stack.parameters.items()]
    return pairs


def _stack_momentum(runs: Sequence[ClassifierRun], model: StackedModules, criterion: StackedModules,
                    optimizer: torch.optim.Optimizer) -> None:
    """Give the pack's SGD the runs' momentum buffers (resumed runs have them; new runs have none yet)."""
    for stacked, parameters in _parameter_pairs(runs, model, criterion):
        buffers = [run.optimizer.state.get(parameter, {}).get("momentum_buffer")
                   for run, parameter in zip(runs, parameters)]
        if all(buffer is not None for buffer in buffers):
            optimizer.state[stacked]["momentum_buffer"] = torch.stack(buffers)
        elif any(buffer is not None for buffer in buffers):
            raise ChimeraMixError("the runs of a pack must all be new, or all resumed from the same epoch")


def _hand_back(runs: Sequence[ClassifierRun], model: StackedModules, criterion: StackedModules,
               optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR) -> None:
    """Copy the pack's state into the runs (what their checkpoints save and their evaluation uses): weights
    and buffers, momentum buffers, the schedule's position and learning rate."""
    model.unstack_into([run.model for run in runs])
    criterion.unstack_into([run.criterion for run in runs])
    for run in runs:
        run.scheduler.load_state_dict(scheduler.state_dict())
        for group in run.optimizer.param_groups:
            group["lr"] = optimizer.param_groups[0]["lr"]
    for stacked, parameters in _parameter_pairs(runs, model, criterion):
        buffer = optimizer.state.get(stacked, {}).get("momentum_buffer")
        if buffer is not None:
            for run, parameter, member in zip(runs, parameters, buffer):
                run.optimizer.state[parameter]["momentum_buffer"] = member.clone()
