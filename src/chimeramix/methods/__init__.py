"""The methods, one folder per family (what each holds: its ``__init__``), the per-step :class:`Augmentation`
that runs a method's stages, and a finished generating first run frozen for a classifier
(:mod:`chimeramix.methods.frozen_run`, for any family's kind); this package also re-exports the registry's public names
(:mod:`chimeramix.components`), what a plug-in imports.

The registry needs no PyTorch; the transforms are imported when first used (the command line's ``--help``
lists the methods without loading PyTorch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chimeramix.components.entry import Component, RunPicture
from chimeramix.components.hooks import (
    AxisSetting,
    ComponentHooks,
    Composing,
    Erasing,
    FedSegments,
    FrontEnd,
    GroupComposer,
    RunBudget,
    RunKind,
    SweepAxes,
)
from chimeramix.components.registry import COMPONENTS, Method, method_names, parse_method, register_method

if TYPE_CHECKING:
    from chimeramix.image_ops import channel_stats, crop_flip, normalize
    from chimeramix.methods.augmentation import Augmentation, ImageParams, StepParams
    from chimeramix.methods.chimeramix.pair_mixing import PairMixing
    from chimeramix.methods.frozen_run import ComposerContext
    from chimeramix.methods.image_space.erasing import cutout

LAZY = {"Augmentation": "chimeramix.methods.augmentation", "ImageParams": "chimeramix.methods.augmentation",
        "StepParams": "chimeramix.methods.augmentation", "PairMixing": "chimeramix.methods.chimeramix.pair_mixing",
        "ComposerContext": "chimeramix.methods.frozen_run",
        "cutout": "chimeramix.methods.image_space.erasing",
        **{name: "chimeramix.image_ops" for name in ("channel_stats", "crop_flip", "normalize")}}

__all__ = [
    "COMPONENTS",
    "Augmentation",
    "AxisSetting",
    "Component",
    "ComponentHooks",
    "ComposerContext",
    "Composing",
    "Erasing",
    "FedSegments",
    "FrontEnd",
    "GroupComposer",
    "ImageParams",
    "Method",
    "PairMixing",
    "RunBudget",
    "RunKind",
    "RunPicture",
    "StepParams",
    "SweepAxes",
    "channel_stats",
    "crop_flip",
    "cutout",
    "method_names",
    "normalize",
    "parse_method",
    "register_method",
]


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'chimeramix.methods' has no attribute {name!r}")

