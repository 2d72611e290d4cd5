"""Typed configuration of every run; the defaults live here and in :mod:`chimeramix.protocol`.

Modules: :mod:`~chimeramix.config.runs` (the configs and the presets' values), :mod:`~chimeramix.config.roles`
(field roles), :mod:`~chimeramix.config.dicts` (dicts, differences, overrides).

A classifier run is described by one dataclass (:class:`ClassifierConfig`, with a nested :class:`DataConfig` and
:class:`MaskConfig`), the run a method needs first by its method's config (ChimeraMix's ``GeneratorConfig``, in
its folder). Fields left at ``None`` mean "the protocol's or the recipe's value"; :mod:`chimeramix.resolution`
fills them (it reads the data and the method, which this package does not), so that the config saved with a run
is complete and explicit.

Every field may declare *roles* (:data:`MACHINE`, :data:`SPLIT`, :data:`PACKABLE`, :data:`SWEEP`); the lists
that other modules need (what may differ on resume, inside a pack, between the runs of one table cell, what a
sweep sets itself) are derived from them by :func:`fields_with_role`, never written out twice.

Presets: ``paper`` is the full protocol; ``quick`` is a CPU-sized version of the same recipe for demos and
tests. Recipes: ``paper`` (the default) and ``released`` (the authors' code, see :data:`~chimeramix.protocol.RECIPES`).
"""

from chimeramix.config.dicts import (
    differences,
    flatten,
    from_dict,
    merge,
    parse_int_list,
    to_dict,
    with_overrides,
)
from chimeramix.config.roles import (
    MACHINE,
    PACKABLE,
    SECTIONS,
    SPLIT,
    SWEEP,
    fields_with_role,
    leaf_fields,
    role_field,
)
from chimeramix.config.runs import (
    BUILTIN_FOLDER_SIZE,
    Architecture,
    BudgetConfig,
    ClassifierConfig,
    DataConfig,
    MaskConfig,
    MaskDownsampling,
    MaskKind,
    MaskWeights,
    Partition,
    Preset,
    RegionChoice,
    RunBookkeeping,
    RunConfig,
    SegmentSource,
    protocol_for,
    resolve_masks,
    unset_values,
)

__all__ = [
    "BUILTIN_FOLDER_SIZE",
    "MACHINE",
    "PACKABLE",
    "SECTIONS",
    "SPLIT",
    "SWEEP",
    "Architecture",
    "BudgetConfig",
    "ClassifierConfig",
    "DataConfig",
    "MaskConfig",
    "MaskDownsampling",
    "MaskKind",
    "MaskWeights",
    "Partition",
    "Preset",
    "RegionChoice",
    "RunBookkeeping",
    "RunConfig",
    "SegmentSource",
    "differences",
    "fields_with_role",
    "flatten",
    "from_dict",
    "leaf_fields",
    "merge",
    "parse_int_list",
    "protocol_for",
    "resolve_masks",
    "role_field",
    "to_dict",
    "unset_values",
    "with_overrides",
]


MOVED = {"GeneratorConfig": "chimeramix.methods.chimeramix.settings"}
"""Names that moved to a method's folder, and where they are now."""


def __getattr__(name: str) -> object:
    """A name that moved is an ``ImportError`` that says where it is now."""
    if name in MOVED:
        raise ImportError(f"chimeramix.config.{name} moved with its method: import it from {MOVED[name]} (or "
                          f"`from chimeramix import {name}`)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
