"""Roles of config fields, declared once on the fields: what may differ on resume, inside a training pack,
between the runs of one table cell, and what a sweep sets itself.

Every other module derives its lists from them with :func:`fields_with_role`, never writes them out twice.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import field, fields
from typing import Any

MACHINE = "machine"
"""Does not change what the run computes (where, how fast, how often it saves): may differ on resume, is left
out of a table cell's recipe."""
SPLIT = "split"
"""Differs between the splits (seeds) of one table cell."""
PACKABLE = "packable"
"""May differ between the runs of one training pack."""
SWEEP = "sweep"
"""Set by a sweep itself (grid axes, machine options, dependencies): not a sweep override."""
SECTIONS = "sections"
"""Metadata key of a field that holds named sections of settings (``{name: {field: value}}``, a method
component's own): :func:`chimeramix.config.to_dict` writes each section beside the other fields, and
:func:`chimeramix.config.from_dict` gathers the mappings under keys that are no field into it."""


def role_field(default: Any = None, *roles: str, factory: Any = None) -> Any:
    metadata = {"roles": frozenset(roles)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def fields_with_role(cls: type, role: str) -> frozenset[str]:
    """The dotted names (``data.seed``) of the leaf fields of ``cls`` with ``role``; a role on a nested config
    field applies to all its leaves.

    >>> from chimeramix.config import ClassifierConfig
    >>> sorted(fields_with_role(ClassifierConfig, PACKABLE))
    ['data.seed', 'generator', 'method']
    """
    return frozenset(name for name, roles in _leaf_roles(cls).items() if role in roles)


def leaf_fields(cls: type) -> frozenset[str]:
    """The dotted names of every leaf field of ``cls``."""
    return frozenset(_leaf_roles(cls))


def _leaf_roles(cls: type, prefix: str = "", inherited: frozenset[str] = frozenset()) -> dict[str, frozenset[str]]:
    hints = typing.get_type_hints(cls)
    leaves: dict[str, frozenset[str]] = {}
    for f in fields(cls):
        roles = inherited | f.metadata.get("roles", frozenset())
        nested = nested_config(hints[f.name])
        if nested is None:
            leaves[prefix + f.name] = roles
        else:
            leaves.update(_leaf_roles(nested, f"{prefix}{f.name}.", roles))
    return leaves


def nested_config(hint: Any) -> type | None:
    """The config dataclass a field holds (``MaskConfig | None`` -> ``MaskConfig``), or ``None``."""
    candidates = typing.get_args(hint) or (hint,)
    return next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)
