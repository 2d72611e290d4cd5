"""What the core asks of a method component beyond the image-space stages: its own settings, how they resolve and
what presets set in them, its command-line options, its network (a front end), batches of its own (mixes under a
teacher), its learning-rate schedule, its pictures, its table rows and what its runs cost.

A component declares a :class:`ComponentHooks` in its own folder and names it in its registry entry
(``Component.hooks``, ``module:NAME``); the core calls these hooks and never the method by name. Every hook is
optional. The hooks object is imported when first needed, so its module must import no PyTorch at the top: the
hooks that train (the network's builder, ``batches``, ``lr_schedule``, ``pictures``) are ``module:function``
references loaded when a run trains.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chimeramix.config import ClassifierConfig, from_dict


@dataclass(frozen=True)
class FrontEnd:
    """The network of a front-end component: a top model of width W under the front end.

    >>> FrontEnd("front-wrn-{width}", "m:f", {"paper": 8}).width_of("front-wrn-3")
    3
    """

    architecture: str
    """The architecture names of its network, with ``{width}`` for W (``front-wrn-{width}``)."""
    build: str
    """``module:function``: ``(width, num_classes, component, settings, image_size) -> nn.Module``; ``settings``
    the component's section (``None``: its defaults, e.g. a network to load weights into), ``image_size`` the
    training images' side (``None``: not known)."""
    widths: Mapping[str, int]
    """W by preset (``paper``, ``quick``); another preset gets the paper's."""

    def name(self, width: int | str) -> str:
        """The architecture of width W (``WIDTH``: its pattern, for messages)."""
        return self.architecture.format(width=width)

    def width_of(self, architecture: str) -> int | None:
        """W of an architecture name of this network, or ``None`` when the name is another network's."""
        pattern = re.escape(self.architecture).replace(re.escape("{width}"), r"(\d+)")
        match = re.fullmatch(pattern, architecture)
        return int(match[1]) if match else None

    def default(self, preset: str) -> str:
        """The architecture of ``preset``."""
        return self.name(self.widths.get(preset, self.widths["paper"]))


@dataclass(frozen=True)
class ComponentHooks:
    """The hooks of one method component; see the module docstring. ``settings`` is a dataclass whose fields are
    the component's own settings, kept in the classifier config's section ``section``."""

    section: str | None = None
    settings: type | None = None
    resolve: Callable[[ClassifierConfig, Any], ClassifierConfig] | None = None
    """``(config, settings) -> config``: fills what the component decides (before the protocol fills
    the rest) and checks what it cannot train; the settings are the section's, defaults filled."""
    preset_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Values a preset (``quick``) sets in the section; values given after the preset win."""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    """Adds the component's option group to ``classifier train``."""
    from_arguments: Callable[[argparse.Namespace], dict[str, Any] | None] | None = None
    """The section the parsed options give (``None``: none given)."""
    front_end: FrontEnd | None = None
    check: str | None = None
    """``module:function``: ``(config) -> None``: refuses what a run of the resolved config cannot train (a
    missing or mismatched run it needs first), before its run folder is written."""
    batches: str | None = None
    """``module:function``: ``(config, augmentation, data, folder, device) -> batches``: the run's batches instead
    of the augmentation's (``batches(positions, rng)`` -> inputs, targets), with ``epoch_columns()`` (the log's
    columns of the epoch that ends) and ``result_fields()`` (what the run's result adds)."""
    packs_alone: bool = False
    """Its runs train in no pack (their batches are their own)."""
    cost_variant: Callable[[ClassifierConfig], str] | None = None
    """``(resolved config) -> name``: what a step costs besides the network, the variant part of the cost key."""
    pool_mixes: Callable[[ClassifierConfig], int] | None = None
    """``(resolved config) -> N``: mixes made once before training (a cost unit of their own, under the cost key
    whose variant ends in ``-mix``), stored in the run folder's ``pool_file``."""
    pool_file: str | None = None
    lr_schedule: str | None = None
    """``module:function``: ``(config, optimizer, total_steps) -> LRScheduler | None``; ``None`` from it: the
    protocol's cosine annealing."""
    pictures: str | None = None
    """``module:function``: ``(model, path_of, image_size, initial) -> None``: draws the component's pictures
    (``path_of(name)`` is the run folder's picture path) at the start (``initial``) and at every checkpoint."""
    table_variant: Callable[[Mapping[str, Any]], str] | None = None
    """``(section) -> mark``: a table row of its own for runs with these settings (``""``: the method's row)."""
    step_seconds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Default seconds per step of its runs by device kind and cost key, until this machine measured them."""

    def settings_of(self, config: ClassifierConfig) -> Any:
        """The component's settings in ``config`` (defaults where the section is missing)."""
        assert self.section is not None and self.settings is not None
        return from_dict(self.settings, config.method_settings.get(self.section) or {})
