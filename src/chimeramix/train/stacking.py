"""The machinery of training packs: G modules of one architecture as one vmapped module, and one optimiser
and schedule over their stacked weights.

- :class:`StackedModules` stacks the weights and buffers along a new leading dimension
  (``torch.func.stack_module_state``) and calls the modules through one ``torch.func.vmap`` (a convolution
  becomes one grouped convolution: the kernel launches of one run do the work of G).
- :func:`pack_optimizer` makes one optimiser of the runs' kind and settings over the stacked weights (SGD
  and Adam are elementwise: this is G optimisers), holding the runs' state; :func:`hand_back_optimizer`
  copies it back, so that each run's checkpoint holds its own state. :func:`pack_scheduler` drives it with
  the runs' schedule.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR

from chimeramix.errors import ChimeraMixError

Pairs = list[tuple[torch.Tensor, list[nn.Parameter]]]
"""(stacked parameter, the G runs' parameters it holds)."""


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

    def __call__(self, *inputs: torch.Tensor, **options: Any) -> Any:
        """The G modules on their inputs."""
        call = partial(self._call_one, options)
        return vmap(call, randomness="different")(self.parameters, self.buffers, *inputs)

    def _call_one(self, options: dict[str, Any], parameters: dict[str, torch.Tensor],
                  buffers: dict[str, torch.Tensor], *inputs: torch.Tensor) -> Any:
        return functional_call(self.template, (parameters, buffers), inputs, options)

    def train(self, mode: bool = True) -> None:
        self.template.train(mode)

    @torch.no_grad()
    def unstack_into(self, modules: Sequence[nn.Module]) -> None:
        """Copy member g's parameters and buffers into ``modules[g]``."""
        for index, module in enumerate(modules):
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                stacked = self.parameters[name] if name in self.parameters else self.buffers[name]
                tensor.copy_(stacked[index])


def stack_batches(batches: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """G batches (tuples of tensors, e.g. inputs and targets) as one pack batch: each tensor stacked,
    ``G x B x ...``."""
    return tuple(torch.stack(tensors) for tensors in zip(*batches))


def pack_optimizer(optimizers: Sequence[torch.optim.Optimizer], modules: Sequence[nn.Module],
                   stacked: StackedModules) -> tuple[torch.optim.Optimizer, Pairs]:
    """One optimiser of the runs' kind, settings and parameter groups over the stacked parameters of
    ``modules`` that ``optimizers`` (one per run) optimise, holding the runs' state (momentum, Adam moments:
    stacked; step counts: shared) and learning rates; and the pairs that :func:`hand_back_optimizer` needs."""
    first = optimizers[0]
    names = [{id(parameter): name for name, parameter in module.named_parameters()} for module in modules]
    groups, pairs = [], []
    for index, group in enumerate(first.param_groups):
        stacked_group = []
        for members in zip(*(optimizer.param_groups[index]["params"] for optimizer in optimizers)):
            member_names = {run_names[id(member)] for run_names, member in zip(names, members)}
            if len(member_names) != 1:
                raise ChimeraMixError("the runs of a pack must optimise the same parameters in the same order")
            parameter = stacked.parameters[member_names.pop()]
            stacked_group.append(parameter)
            pairs.append((parameter, list(members)))
        groups.append({**{key: value for key, value in group.items() if key != "params"}, "params": stacked_group})
    packed = type(first)(groups, **first.defaults)
    for parameter, group_members in pairs:
        states = [optimizer.state.get(member, {}) for optimizer, member in zip(optimizers, group_members)]
        if any(state.keys() != states[0].keys() for state in states):
            raise ChimeraMixError("the runs of a pack must all be new, or all resumed from the same epoch")
        for key, value in states[0].items():
            per_element = torch.is_tensor(value) and value.shape == group_members[0].shape
            packed.state[parameter][key] = (torch.stack([state[key] for state in states]) if per_element
                                            else copy.deepcopy(value))
    return packed, pairs


def hand_back_optimizer(packed: torch.optim.Optimizer, optimizers: Sequence[torch.optim.Optimizer],
                        pairs: Pairs) -> None:
    """Copy a pack optimiser's state and learning rates into the runs' optimisers (what checkpoints save)."""
    for optimizer in optimizers:
        for group, packed_group in zip(optimizer.param_groups, packed.param_groups):
            group["lr"] = packed_group["lr"]
    for stacked, members in pairs:
        for key, value in packed.state.get(stacked, {}).items():
            per_element = torch.is_tensor(value) and value.shape[1:] == members[0].shape
            for index, (optimizer, member) in enumerate(zip(optimizers, members)):
                optimizer.state[member][key] = value[index].clone() if per_element else copy.deepcopy(value)


def pack_scheduler(scheduler: LRScheduler, optimizer: torch.optim.Optimizer) -> LRScheduler:
    """The runs' learning-rate schedule (at their step) driving the pack's ``optimizer``."""
    packed: LRScheduler
    if isinstance(scheduler, LambdaLR):
        packed = LambdaLR(optimizer, list(scheduler.lr_lambdas))
    elif isinstance(scheduler, MultiStepLR):
        packed = MultiStepLR(optimizer, sorted(scheduler.milestones.elements()), scheduler.gamma)
    else:
        raise ChimeraMixError(f"training packs do not know the schedule {type(scheduler).__name__} (a method's own "
                              "schedule, e.g. OneCycle); train these runs alone (--pack 1)")
    packed.load_state_dict(scheduler.state_dict())
    for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):  # making it stepped from the start
        group["lr"] = lr
    return packed
