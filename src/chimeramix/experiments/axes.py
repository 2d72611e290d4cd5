"""A sweep's axes beyond datasets, methods, k and seeds: settings of the runs a method needs first, which the kind
of those runs declares (:class:`~chimeramix.components.hooks.SweepAxes`; ChimeraMix's generator: residual blocks,
mixing point and grid cells, the paper's sensitivity study). A method whose first run is of such a kind is
planned once per setting of the axes given for it; a setting names itself in job ids and table rows only where it
differs from the kind's default, so the ids of sweeps without axes stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chimeramix.components.hooks import AxisSetting, RunKind
from chimeramix.components.registry import Method, declared_run_kinds
from chimeramix.errors import ChimeraMixError


def axis_kinds() -> dict[str, RunKind]:
    """Every axis a declared kind of run offers, with that kind."""
    return {axis: kind for kind in declared_run_kinds().values() if kind.axes is not None for axis in kind.axes.names}


def axis_names() -> list[str]:
    """The axes a sweep may vary (for ``--help`` and messages)."""
    return list(axis_kinds())


def check_axes(axes: Mapping[str, Sequence[float]], first_runs: Mapping[str, Mapping[str, Any]] | None = None
               ) -> None:
    """Unknown axes and axes without values are clear errors, and so is what the kinds' own checks refuse
    (impossible values; axes that ``first_runs``, the sweep's overrides by kind, also set)."""
    kinds = axis_kinds()
    unknown = sorted(set(axes) - set(kinds))
    if unknown:
        offered = ", ".join(kinds) or "none: no method declares one"
        raise ChimeraMixError(f"unknown generator axes {unknown}; use {offered}")
    for axis, values in axes.items():
        if not values:
            raise ChimeraMixError(f"generator axis {axis} has no values; give at least one")
    for kind in {kinds[axis].name: kinds[axis] for axis in axes}.values():
        assert kind.axes is not None
        kind.axes.check(_own(axes, kind), (first_runs or {}).get(kind.name, {}))


def settings_of_method(axes: Mapping[str, Sequence[float]], method: Method) -> list[AxisSetting | None]:
    """The settings of the run ``method`` needs first that ``axes`` span, or one ``None`` (a method whose first run
    has no axes): the method's runs are planned once per setting."""
    kind = declared_run_kinds().get(method.first_run or "")
    if kind is None or kind.axes is None:
        return [None]
    return list(kind.axes.settings(_own(axes, kind), method.name))


def setting_of_run(kind_name: str | None, config: Mapping[str, Any] | None) -> AxisSetting | None:
    """The setting of a first run's config dict (``None``: no such run, or its kind has no axes)."""
    kind = declared_run_kinds().get(kind_name or "")
    if kind is None or kind.axes is None or config is None:
        return None
    return kind.axes.setting_of(config)


def _own(axes: Mapping[str, Sequence[float]], kind: RunKind) -> dict[str, Sequence[float]]:
    """The axes of ``kind`` among ``axes``."""
    assert kind.axes is not None
    return {axis: values for axis, values in axes.items() if axis in kind.axes.names}
