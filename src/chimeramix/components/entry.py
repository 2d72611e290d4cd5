"""A component of the method registry (:mod:`~chimeramix.components.registry`): its role, description, first run,
transform, pictures and hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FirstRun = str
"""The kind of the run a method needs trained before its classifier: ``generator`` (ChimeraMix's), ``teacher``
(a baseline classifier of the same split), or a kind the component's hooks declare
(:attr:`~chimeramix.components.hooks.ComponentHooks.run_kind`)."""
Role = Literal["baseline", "front-end", "pair-mixing", "label-mixing", "teacher-mixing", "policy", "erasing",
               "loss"]
ROLE_ORDER: tuple[Role, ...] = ("baseline", "front-end", "pair-mixing", "label-mixing", "teacher-mixing", "policy",
                                "erasing", "loss")
"""Order of the components in a method's canonical name."""


@dataclass(frozen=True)
class RunPicture:
    """A picture that a component's classifier runs save in their folder (``NAME.png``), for the report."""

    name: str
    heading: str
    """The report's heading over the component's pictures."""
    caption: str


@dataclass(frozen=True)
class Component:
    """One entry of the registry: its role and what it does."""

    role: Role
    description: str
    first_run: FirstRun | None = None
    """The run the component needs trained first, if any."""
    transform: str | None = None
    """As ``module:function`` (loaded when a run trains: it may import PyTorch), a policy's per-image transform,
    ``(image size) -> torch.nn.Module`` that maps a float C x H x W image in [0, 1] to another, a label mixing's
    batch transform, ``(number of classes) -> torch.nn.Module`` that maps a batch of normalised images and their
    class indices to mixed images and class probabilities (as torchvision's ``v2.MixUp``), or an erasing's stage,
    ``(released stage order, size) ->`` :class:`~chimeramix.components.hooks.Erasing`."""
    pictures: tuple[RunPicture, ...] = ()
    """The pictures its runs save, shown by ``chimeramix report`` when the run folder has them."""
    hooks: str | None = None
    """What the core asks of it beyond its batches (its settings, network, schedule...), as ``module:NAME`` of a
    :class:`~chimeramix.components.hooks.ComponentHooks` (imported when first needed)."""
