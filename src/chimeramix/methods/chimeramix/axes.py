"""The generator's settings a sweep can vary as axes (:data:`SWEEP_AXES`, the generator kind's ``axes``): the
paper's sensitivity studies (Suppl. C.1, Figs. 6 and 7).

- ``blocks``: residual blocks of the generator (``GeneratorConfig.blocks``);
- ``mix_point``: the relative feature mixing point, mix_after / blocks (Fig. 6's x axis: 0.5 of 4 blocks mixes
  after block 2); a combination whose mix_after would not be a whole block is left out of the grid;
- ``grid_cells``: cells per side of grid masks (``MaskConfig.grid_cells``, Fig. 7); generators with
  segmentation masks are not multiplied by it.

The defaults are those of :class:`~chimeramix.methods.chimeramix.settings.GeneratorConfig` (4
blocks, mixing after 2, a 4 x 4 grid). A setting names itself in job ids only where it differs from them
(``gen-cifar10-k10-s0-grid-g8-quick``), so the ids of sweeps without axes stay as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chimeramix.components.hooks import SweepAxes
from chimeramix.components.registry import parse_method
from chimeramix.config import MaskConfig, MaskKind, flatten
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.settings import GeneratorConfig

AXIS_TITLES = {"blocks": "residual blocks", "mix_point": "relative feature mixing point (mix_after / blocks)",
               "grid_cells": "grid cells per side (mixing mask size)"}
"""The axes, with their titles in tables and plots."""
AXIS_FIELDS = {"blocks": ("blocks",), "mix_point": ("mix_after",), "grid_cells": ("masks.grid_cells",)}
"""The generator config fields each axis sets (dotted for nested fields)."""


@dataclass(frozen=True)
class GeneratorSetting:
    """One point of the generator axes."""

    blocks: int = GeneratorConfig.blocks
    mix_after: int = GeneratorConfig.mix_after
    grid_cells: int = MaskConfig.grid_cells

    @property
    def mix_point(self) -> float:
        return self.mix_after / self.blocks if self.blocks else 0.0

    def value(self, axis: str) -> float:
        """The setting's value on ``axis`` (``mix_point`` relative)."""
        return float(self.mix_point if axis == "mix_point" else getattr(self, axis))

    def changes(self) -> dict[str, int]:
        """The config fields (dotted) where this setting differs from the default."""
        default = GeneratorSetting()
        values = {"blocks": self.blocks, "mix_after": self.mix_after, "masks.grid_cells": self.grid_cells}
        defaults = {"blocks": default.blocks, "mix_after": default.mix_after, "masks.grid_cells": default.grid_cells}
        return {key: value for key, value in values.items() if value != defaults[key]}

    def overrides(self) -> dict[str, Any]:
        """The generator config overrides of the setting, nested as the config (empty for the default)."""
        nested: dict[str, Any] = {}
        for key, value in self.changes().items():
            *parents, name = key.split(".")
            target = nested
            for parent in parents:
                target = target.setdefault(parent, {})
            target[name] = value
        return nested

    def id_part(self) -> str:
        """``b6-m3-g8`` for the fields that differ from the default; empty for the default."""
        letters = {"blocks": "b", "mix_after": "m", "masks.grid_cells": "g"}
        return "-".join(f"{letters[key]}{value}" for key, value in self.changes().items())

    def label(self, without_axis: str | None = None) -> str:
        """``6 blocks, mix after 3, 8x8 grid`` for the fields that differ from the default (leaving out the field
        of ``without_axis``)."""
        names = {"blocks": "{} blocks", "mix_after": "mix after {}", "masks.grid_cells": "{0}x{0} grid"}
        hidden = AXIS_FIELDS.get(without_axis or "", ())
        return ", ".join(names[key].format(value) for key, value in self.changes().items() if key not in hidden)


def generator_settings(axes: Mapping[str, Sequence[float]], mask: MaskKind) -> list[GeneratorSetting]:
    """Every setting of the grid ``axes`` for generators with ``mask`` masks (see the module docstring)."""
    check_axes(axes)
    default = GeneratorSetting()
    blocks = [int(value) for value in axes.get("blocks", [default.blocks])]
    points = [float(value) for value in axes.get("mix_point", [default.mix_point])]
    cells = [int(value) for value in axes.get("grid_cells", [default.grid_cells])] if mask == "grid" else [
        default.grid_cells]
    settings = []
    for block_count, point, cell_count in itertools.product(blocks, points, cells):
        mix_after = point * block_count
        if abs(mix_after - round(mix_after)) < 1e-9:
            settings.append(GeneratorSetting(block_count, round(mix_after), cell_count))
    if not settings:
        raise ChimeraMixError(f"no mixing point of {points} falls on a whole block of {blocks} blocks; choose "
                              "points like 0, 0.25, 0.5, 0.75, 1 with 4 blocks")
    return list(dict.fromkeys(settings))


def check_axes(axes: Mapping[str, Sequence[float]], overrides: Mapping[str, Any] | None = None) -> None:
    """Impossible values, and axes that ``overrides`` (generator config overrides) also set, are clear errors
    (the core refuses unknown axes and empty ones)."""
    if any(int(value) < 1 for value in [*axes.get("blocks", []), *axes.get("grid_cells", [])]):
        raise ChimeraMixError("blocks and grid cells must be at least 1")
    if any(not 0.0 <= float(value) <= 1.0 for value in axes.get("mix_point", [])):
        raise ChimeraMixError("relative mixing points must lie in [0, 1] (mix_after / blocks)")
    both = sorted(axis for axis in axes if set(AXIS_FIELDS[axis]) & set(flatten(overrides or {})))
    if both:
        raise ChimeraMixError(f"generator axes {both} are also set as generator overrides; set each setting once")


def setting_of(config: Mapping[str, Any]) -> GeneratorSetting:
    """The setting of a generator config dict (a run's ``config.json`` or ``result.json``)."""
    masks = config.get("masks") or {}
    return GeneratorSetting(int(config.get("blocks", GeneratorConfig.blocks)),
                            int(config.get("mix_after", GeneratorConfig.mix_after)),
                            int(masks.get("grid_cells", MaskConfig.grid_cells)))


def method_settings(axes: Mapping[str, Sequence[float]], method: str) -> list[GeneratorSetting]:
    """The settings of ``axes`` for the generator a classifier of ``method`` needs (its mask kind)."""
    return generator_settings(axes, parse_method(method).generator_masks.kind)


SWEEP_AXES = SweepAxes(AXIS_TITLES, method_settings, check_axes, setting_of)
"""The generator kind's sweep axes."""
