"""Several runs trained as one batched model: a *pack* (issue #6, concurrent runs on one GPU).

At the protocol's batch sizes (10 images for the classifier, 64 for the generator) one run leaves a GPU
mostly idle, and the runs of a table differ only in their data and augmentation. A pack trains G runs whose
configs are equal except for the split seed (and therefore the generator a classifier uses) and, for
classifiers, the augmentation method (as long as the methods' batches and losses have one form) in lock-step:

- their weights and buffers are stacked along a new leading dimension (``torch.func.stack_module_state``), and
  one step runs the G forward passes as one ``torch.func.vmap`` of the model (a convolution becomes one
  grouped convolution: the kernel launches of one run do the work of G);
- the loss is the sum of the G runs' losses, so the gradient of each run's weights is that run's own, and one
  optimiser steps them all (SGD and Adam are elementwise: this is G optimisers);
- each run keeps its own data, epoch order, RNG, run directory, log, checkpoints, pictures and result, written
  as the lone trainers write them (through the same :class:`~chimeramix.train.classifier.ClassifierRun` and
  :class:`~chimeramix.train.generator.GeneratorRun`): a packed run resumes alone, and a lone run in a pack.

What differs from a lone run: the dropout masks of a classifier pack come from one global stream (``vmap(...,
randomness="different")``), so runs with dropout are statistically, not bitwise, equal to lone runs; without
dropout they agree to floating-point tolerance (grouped and plain convolutions sum in other orders). A
generator pack checks its losses once per epoch, as the fast path does. Results record ``pack_size``; their
``wall_seconds`` is the pack's wall time, shared by its runs.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from itertools import groupby
from typing import Any, TypeVar

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR

from chimeramix.config import ClassifierConfig, GeneratorConfig, differences, resolve_generator, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.methods import parse_method
from chimeramix.runtime import progress_bar
from chimeramix.train.classifier import ClassifierRun, open_run, resolve
from chimeramix.train.fast import GraphedFunction, SideStream, classifier_update
from chimeramix.train.generator import LOSS_NAMES, GeneratorRun, open_generator_run, show_losses

PACK_VARYING = frozenset({"data.seed", "generator", "method"})
"""Config fields that may differ between the runs of a pack; methods only as far as :func:`pack_key` allows."""

Run = TypeVar("Run", ClassifierRun, GeneratorRun)


def pack_key(config: ClassifierConfig | GeneratorConfig) -> dict[str, Any]:
    """What runs of one pack share: the resolved config without :data:`PACK_VARYING`, and for a classifier
    the form of its method's batches and loss (the targets of label mixing are class probabilities, the
    others class indices; the cosine loss is another module than cross-entropy), which stacked runs share."""
    if isinstance(config, ClassifierConfig):
        resolved = resolve(config)
        values = to_dict(resolved)
        method = parse_method(resolved.method)
        values["batches"] = {"soft_labels": method.component("label-mixing") is not None,
                             "cosine_loss": method.cosine_loss}
    else:
        values = to_dict(resolve_generator(config))
    values["data"] = {key: value for key, value in values["data"].items() if f"data.{key}" not in PACK_VARYING}
    return {key: value for key, value in values.items() if key not in PACK_VARYING}


def check_packable(configs: Sequence[ClassifierConfig | GeneratorConfig]) -> None:
    """Refuse configs of different kinds, or that differ in more than :data:`PACK_VARYING`, naming the fields."""
    if len({type(config) for config in configs}) > 1:
        raise ChimeraMixError("a pack holds classifier runs or generator runs, not both")
    first = pack_key(configs[0])
    for config in configs[1:]:
        differing = differences(first, pack_key(config))
        if differing:
            raise ChimeraMixError(
                f"runs of one pack may differ only in {sorted(PACK_VARYING)} (methods with one form of batches "
                f"and loss), not in {', '.join(differing)}; train them in separate packs"
            )


# ------------------------------------------------------------------------------------------- stacked modules


class StackedModules:
    """G modules of one architecture as stacked parameters and buffers, called through ``vmap``.

    ``stacked(x)`` with ``x`` of shape ``G x ...`` returns ``G x ...``: module g applied to ``x[g]`` (keyword
    arguments go to every module unbatched). The stacked parameters are new leaf tensors (optimise them, not
    the modules'); :meth:`unstack_into` copies their values back into the modules.

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

    def __call__(self, *inputs: torch.Tensor, parameters: dict[str, torch.Tensor] | None = None,
                 **options: Any) -> Any:
        """The G modules on their inputs; ``parameters`` replaces the stacked parameters (e.g. detached)."""
        call = partial(self._call_one, options)
        return vmap(call, randomness="different")(parameters or self.parameters, self.buffers, *inputs)

    def _call_one(self, options: dict[str, Any], parameters: dict[str, torch.Tensor],
                  buffers: dict[str, torch.Tensor], *inputs: torch.Tensor) -> Any:
        return functional_call(self.template, (parameters, buffers), inputs, options)

    def parameter_pairs(self, modules: Sequence[nn.Module], prefix: str = "") -> list[tuple[torch.Tensor,
                                                                                           list[nn.Parameter]]]:
        """(stacked parameter, the modules' parameters it holds) for the parameters named ``prefix...``."""
        named = [dict(module.named_parameters()) for module in modules]
        return [(stacked, [members[name] for members in named])
                for name, stacked in self.parameters.items() if name.startswith(prefix)]

    @torch.no_grad()
    def unstack_into(self, modules: Sequence[nn.Module]) -> None:
        """Copy member g's parameters and buffers into ``modules[g]``."""
        for index, module in enumerate(modules):
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                stacked = self.parameters[name] if name in self.parameters else self.buffers[name]
                tensor.copy_(stacked[index])


Pairs = list[tuple[torch.Tensor, list[nn.Parameter]]]


def pack_optimizer(optimizers: Sequence[torch.optim.Optimizer], pairs: Pairs) -> torch.optim.Optimizer:
    """One optimiser of the runs' kind and settings over the stacked parameters of ``pairs``, holding the
    runs' state (momentum, Adam moments: stacked; step counts: shared) and learning rate."""
    first = optimizers[0]
    packed = type(first)([stacked for stacked, _ in pairs], **first.defaults)
    packed.param_groups[0]["lr"] = first.param_groups[0]["lr"]
    for stacked, members in pairs:
        states = [optimizer.state.get(member, {}) for optimizer, member in zip(optimizers, members)]
        if any(state.keys() != states[0].keys() for state in states):
            raise ChimeraMixError("the runs of a pack must all be new, or all resumed from the same epoch")
        for key, value in states[0].items():
            per_element = torch.is_tensor(value) and value.shape == members[0].shape
            packed.state[stacked][key] = (torch.stack([state[key] for state in states]) if per_element
                                          else copy.deepcopy(value))
    return packed


def hand_back_optimizer(packed: torch.optim.Optimizer, optimizers: Sequence[torch.optim.Optimizer],
                        pairs: Pairs) -> None:
    """Copy a pack optimiser's state and learning rate into the runs' optimisers (what checkpoints save)."""
    for optimizer in optimizers:
        optimizer.param_groups[0]["lr"] = packed.param_groups[0]["lr"]
    for stacked, members in pairs:
        for key, value in packed.state.get(stacked, {}).items():
            per_element = torch.is_tensor(value) and value.shape[1:] == members[0].shape
            for index, (optimizer, member) in enumerate(zip(optimizers, members)):
                optimizer.state[member][key] = value[index].clone() if per_element else copy.deepcopy(value)


def pack_scheduler(scheduler: LRScheduler, optimizer: torch.optim.Optimizer) -> LRScheduler:
    """The runs' learning-rate schedule (at their step) driving the pack's ``optimizer``."""
    packed: LRScheduler
    if isinstance(scheduler, LambdaLR):
        packed = LambdaLR(optimizer, scheduler.lr_lambdas[0])
    elif isinstance(scheduler, MultiStepLR):
        packed = MultiStepLR(optimizer, sorted(scheduler.milestones.elements()), scheduler.gamma)
    else:
        raise TypeError(f"packs do not know the schedule {type(scheduler).__name__}")
    packed.load_state_dict(scheduler.state_dict())
    return packed


# ----------------------------------------------------------------------------------------------- the trainers


def train_classifier_pack(
    configs: Sequence[ClassifierConfig],
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train the classifier runs of ``configs`` into ``run_dirs`` as packs; returns their results in order.

    The configs may differ only in :data:`PACK_VARYING`. ``resume`` continues every run from its latest
    checkpoint (finished runs return their stored result); runs at different epochs train as separate packs.
    """
    return _train_packs(configs, run_dirs, partial(open_run, resume=resume), ClassifierRun,
                        partial(_train_classifiers, progress=progress))


def train_generator_pack(
    configs: Sequence[GeneratorConfig],
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train the generator runs of ``configs`` into ``run_dirs`` as packs; otherwise as
    :func:`train_classifier_pack`."""
    return _train_packs(configs, run_dirs, partial(open_generator_run, resume=resume), GeneratorRun,
                        partial(_train_generators, progress=progress))


def _train_packs(
    configs: Sequence[Any],
    run_dirs: Sequence[str | os.PathLike[str]],
    open_one: Callable[[Any, str | os.PathLike[str]], Any],
    run_type: type[Run],
    train: Callable[[list[Run]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Open every run (stored results of finished ones are returned as they are), then ``train`` the others
    in packs of runs at the same epoch."""
    if len(configs) != len(run_dirs) or not configs:
        raise ValueError("a pack needs one run directory per config, and at least one config")
    check_packable(configs)
    opened = [open_one(config, run_dir) for config, run_dir in zip(configs, run_dirs)]
    results = {index: run for index, run in enumerate(opened) if not isinstance(run, run_type)}
    pending = sorted(((index, run) for index, run in enumerate(opened) if isinstance(run, run_type)),
                     key=lambda item: item[1].start_epoch)
    for _, group in groupby(pending, key=lambda item: item[1].start_epoch):
        members = list(group)
        for (index, _), result in zip(members, train([run for _, run in members])):
            results[index] = result
    return [results[index] for index in range(len(configs))]


def _train_classifiers(runs: list[ClassifierRun], *, progress: bool = True) -> list[dict[str, Any]]:
    """Train opened classifier runs (one config up to :data:`PACK_VARYING`, one epoch) in lock-step."""
    first = runs[0]
    config, device = first.config, first.device
    for run in runs:
        run.model.train()
        run.pack_size = len(runs)
    model = StackedModules([run.model for run in runs])
    criterion = StackedModules([run.criterion for run in runs])
    pairs = (model.parameter_pairs([run.model for run in runs])
             + criterion.parameter_pairs([run.criterion for run in runs]))
    optimizer = pack_optimizer([run.optimizer for run in runs], pairs)
    scheduler = pack_scheduler(first.scheduler, optimizer)
    update = classifier_update(model, criterion, optimizer, first.amp_dtype)
    train_step = GraphedFunction(update, optimizers=[optimizer]) if config.fast else update
    batches = SideStream(device, enabled=config.fast)
    methods = ", ".join(dict.fromkeys(run.method.name for run in runs))
    bar = progress_bar(f"classifier {methods} x{len(runs)}", first.total_steps, first.step, enabled=progress)
    for epoch in range(first.start_epoch, config.epochs):
        started = time.perf_counter()
        total_losses = torch.zeros(len(runs), device=device)
        for positions in zip(*(run.epoch_batches(epoch) for run in runs), strict=True):
            inputs, targets = batches.run(partial(_classifier_batch, runs, positions))
            total_losses += train_step(inputs, targets)
            scheduler.step()
            for run in runs:
                run.step += 1
            bar.update(1)
        model.unstack_into([run.model for run in runs])
        criterion.unstack_into([run.criterion for run in runs])
        hand_back_optimizer(optimizer, [run.optimizer for run in runs], pairs)
        seconds = time.perf_counter() - started
        for run, total_loss in zip(runs, total_losses.tolist()):
            run.scheduler.load_state_dict(scheduler.state_dict())
            run.end_epoch(epoch, total_loss / run.per_epoch, seconds)
        bar.set_postfix(loss=f"{float(total_losses.mean()) / first.per_epoch:.4f}", refresh=False)
    bar.close()
    return [run.finish() for run in runs]


def _classifier_batch(runs: Sequence[ClassifierRun], positions: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Every run's augmented batch (from its own RNG), stacked."""
    return stack_batches([run.augmentation(where, run.rng) for run, where in zip(runs, positions)])


def stack_batches(batches: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """G batches (tuples of tensors, e.g. inputs and targets) as one pack batch: each tensor stacked,
    ``G x B x ...``."""
    return tuple(torch.stack(tensors) for tensors in zip(*batches))


def _train_generators(runs: list[GeneratorRun], *, progress: bool = True) -> list[dict[str, Any]]:
    """Train opened generator runs (one config up to :data:`PACK_VARYING`, one epoch) in lock-step."""
    first = runs[0]
    config = first.config
    for run in runs:
        run.pack_size = len(runs)
    objectives = [run.objective for run in runs]
    objective = StackedModules(objectives)
    pairs = {name: objective.parameter_pairs(objectives, prefix=f"{name}.") for name in ("generator",
                                                                                          "discriminator")}
    optimizers = {name: pack_optimizer([run.nets.optimizers[name] for run in runs], pairs[name])
                  for name in pairs}
    schedulers = {name: pack_scheduler(first.nets.schedulers[name], optimizers[name]) for name in pairs}
    gan_step = partial(packed_training_step, objective, optimizers)
    train_step = GraphedFunction(gan_step, optimizers=optimizers.values()) if config.fast else gan_step
    bar = progress_bar(f"generator x{len(runs)}", first.per_epoch * config.epochs, first.step, enabled=progress)
    for epoch in range(first.start_epoch, config.epochs):
        started = time.perf_counter()
        objective.template.train()
        totals = torch.zeros(len(runs), len(LOSS_NAMES), device=first.device)
        for positions in zip(*(run.epoch_batches(epoch) for run in runs), strict=True):
            totals += train_step(*stack_batches([run.batch(where) for run, where in zip(runs, positions)]))
            for scheduler in schedulers.values():
                scheduler.step()
            for run in runs:
                run.step += 1
            bar.update(1)
        objective.unstack_into(objectives)
        for name in pairs:
            hand_back_optimizer(optimizers[name], [run.nets.optimizers[name] for run in runs], pairs[name])
        seconds = time.perf_counter() - started
        for run, total in zip(runs, totals):
            for name, scheduler in schedulers.items():
                run.nets.schedulers[name].load_state_dict(scheduler.state_dict())
            means = run.end_epoch(epoch, total, seconds)
        show_losses(bar, means)
    bar.close()
    return [run.finish() for run in runs]


def packed_training_step(
    objective: StackedModules,
    optimizers: dict[str, torch.optim.Optimizer],
    x1: torch.Tensor,
    x2: torch.Tensor,
    mask: torch.Tensor,
    real_is_x1: torch.Tensor,
) -> torch.Tensor:
    """:func:`chimeramix.train.generator.training_step` for a pack (inputs ``G x ...``; returns ``G x 5``
    losses): the generator half sees the discriminators' weights detached, where a lone step switches their
    gradients off."""
    frozen = {name: tensor.detach() if name.startswith("discriminator.") else tensor
              for name, tensor in objective.parameters.items()}
    loss_g, rec, lap, adv, mixed = objective(x1, x2, mask, parameters=frozen, half="generator")
    optimizers["generator"].zero_grad(set_to_none=True)
    loss_g.sum().backward()
    optimizers["generator"].step()

    loss_d = objective(x1, x2, mixed.detach(), real_is_x1, half="discriminator")
    optimizers["discriminator"].zero_grad(set_to_none=True)
    loss_d.sum().backward()
    optimizers["discriminator"].step()
    return torch.stack([loss_g, rec, lap, adv, loss_d], dim=1).detach()
