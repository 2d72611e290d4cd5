"""Configs as nested dicts (what ``config.json`` holds) and back; differences and overrides."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from chimeramix.config.roles import SECTIONS, nested_config
from chimeramix.errors import ChimeraMixError

Config = TypeVar("Config")

def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (nested configs become dicts; tuples stay tuples until JSON
    writes them as lists, which :func:`from_dict` turns back into tuples); the sections of a :data:`SECTIONS`
    field stand beside the other fields."""
    return _inline_sections(type(config), dataclasses.asdict(config))


def _inline_sections(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        nested = nested_config(hints[f.name])
        if f.metadata.get(SECTIONS):
            values.update(values.pop(f.name))
        elif nested is not None and isinstance(values[f.name], dict):
            values[f.name] = _inline_sections(nested, values[f.name])
    return values


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys (``data.k``) whose values differ between two nested dicts, sorted."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(prefix + key)
    return keys


def from_dict(cls: type[Config], values: Mapping[str, Any]) -> Config:
    """Rebuild a config written by :func:`to_dict`; unknown keys are an error naming them."""
    built = _build(cls, values, "")
    assert isinstance(built, cls)
    return built


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    known = {f.name for f in fields(cls)}
    values = _gather_sections(cls, _without_retired(cls, values), known)
    unknown = sorted(f"{prefix}{key}" for key in set(values) - known)
    if unknown:
        raise ChimeraMixError(
            f"config has unknown keys {unknown} for {cls.__name__}; it was written by another chimeramix "
            "version: rerun the job with this version"
        )
    hints = typing.get_type_hints(cls)
    kwargs = dict(values)
    for f in fields(cls):
        if f.name not in kwargs:
            continue
        nested = nested_config(hints[f.name])
        if nested is not None and isinstance(kwargs[f.name], Mapping):
            kwargs[f.name] = _build(nested, kwargs[f.name], f"{prefix}{f.name}.")
        elif isinstance(kwargs[f.name], list):
            kwargs[f.name] = tuple(kwargs[f.name])
    return cls(**kwargs)


def _without_retired(cls: type, values: Mapping[str, Any]) -> Mapping[str, Any]:
    """``values`` with the fields ``cls`` retired (its ``RETIRED``) read as it now holds them."""
    retired: Mapping[str, tuple[Any, dict[str, Any]]] = getattr(cls, "RETIRED", {})
    if not set(values) & set(retired):
        return values
    kept = {key: value for key, value in values.items() if key not in retired}
    for key, (nothing, instead) in retired.items():
        if key in values and values[key] != nothing:
            kept = merge(kept, instead)
    return kept


def _gather_sections(cls: type, values: Mapping[str, Any], known: set[str]) -> Mapping[str, Any]:
    """``values`` with the mappings under keys that are no field of ``cls`` moved into its :data:`SECTIONS` field
    (a ``None`` section is left out), when it has one."""
    holder = next((f.name for f in fields(cls) if f.metadata.get(SECTIONS)), None)
    if holder is None:
        return values
    sections = {key: dict(value) for key, value in values.items() if key not in known and isinstance(value, Mapping)}
    rest = {key: value for key, value in values.items()
            if key in known or not (key in sections or value is None)}
    return {**rest, holder: {**(rest.get(holder) or {}), **sections}}


def with_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """``config`` with nested ``overrides`` (``{"epochs": 2, "masks": {"grid_cells": 2}}``) merged in."""
    return from_dict(type(config), merge(to_dict(config), overrides))


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts merged, ``overrides`` winning."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys: ``{"masks": {"grid_cells": 2}}`` -> ``{"masks.grid_cells": 2}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def parse_int_list(text: str) -> list[int]:
    """``"5,10,20"`` -> [5, 10, 20]; ``"0-4"`` -> [0, 1, 2, 3, 4]; mixtures like ``"0-2,7"`` too."""
    values: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
        if match is None:
            raise ChimeraMixError(f"cannot read {text!r} as a list of integers; write e.g. 5,10,20 or 0-4")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        values.extend(range(low, high + 1))
    return values
