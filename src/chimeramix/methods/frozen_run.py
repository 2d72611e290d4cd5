"""A finished generating first run, frozen for a classifier: the run a method composes with (ChimeraMix's generator,
a latent-code generator, a plug-in's run), of a kind its component declares with a
:class:`~chimeramix.components.hooks.Composing`. The hooks of such methods are these functions:
:func:`check_first_run` (before the classifier's run folder is written) and :func:`frozen_pair_mixing` (its pair
mixing); :func:`pair_composer` loads any finished generating run (the analysis draws from it too). What differs by
kind is the kind's: its ``composer`` builds the pair mixing from a :class:`ComposerContext`, and its ``problems`` say
what besides the split a classifier must match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from chimeramix.components.hooks import GroupComposer, load_reference
from chimeramix.components.registry import Method, declared_run_kinds, parse_method
from chimeramix.config import ClassifierConfig
from chimeramix.data.splits import data_problems
from chimeramix.data.subset import TrainingSet
from chimeramix.errors import ChimeraMixError
from chimeramix.rundir import RunFolder
from chimeramix.runkinds import composing_kind
from chimeramix.runtime import autocast_dtype


@dataclass(frozen=True)
class ComposerContext:
    """What the composer of a finished generating run (``Composing.composer``) is handed."""

    run_dir: Path
    """The finished run."""
    data: TrainingSet
    """The split's training images, on the training device."""
    device: torch.device
    autocast_dtype: torch.dtype | None = None
    """The classifier's autocast precision (``None``: full)."""
    segments_file: Path | None = None
    """Where the classifier run caches its split's segments (``None``: the generating run's own cache)."""
    align_corners: bool = False
    """Resize as the released recipe does (``align_corners=True``) where a composer resizes."""
    fast: bool = False
    """The classifier trains on the fast path (a composer may replay its compositions as CUDA graphs)."""


def pair_composer(context: ComposerContext) -> GroupComposer:
    """What the finished generating run in ``context.run_dir`` makes of same-class groups of ``context.data``: its
    kind's composer (any other folder is a one-line error)."""
    kind = composing_kind(context.run_dir)
    assert kind.composing is not None
    composer: GroupComposer = load_reference(kind.composing.composer)(context)
    return composer


def frozen_pair_mixing(config: ClassifierConfig, data: TrainingSet, folder: RunFolder,
                       device: torch.device) -> GroupComposer:
    """The ``pair_mixing`` hook of a method that composes with a generating first run: :func:`pair_composer` of the
    run ``config.generator`` names, with the classifier run's segments cache, precision, stage order (the released
    one resizes with ``align_corners=True``) and path."""
    return pair_composer(ComposerContext(Path(str(config.generator)), data, device, autocast_dtype(config.precision),
                                         folder.segments, config.stage_order == "released", config.fast))


def check_first_run(config: ClassifierConfig) -> None:
    """The ``check`` hook of a method that composes with a generating first run: :func:`check_generating_run` of
    its resolved config."""
    check_generating_run(config, parse_method(config.method))


def check_generating_run(config: ClassifierConfig, method: Method) -> Any:
    """The config of the finished run of ``method``'s first-run kind that ``config.generator`` names, checked
    against the classifier's split and what the kind's ``problems`` add (a mismatch is an error unless allowed)."""
    if config.generator is None:
        raise ChimeraMixError(
            f"method {method.name!r} needs a trained generator; pass --generator RUN_DIR (train one with "
            "`chimeramix generator train`), or let `chimeramix run` train it"
        )
    folder = RunFolder(config.generator)
    if not folder.is_finished:
        raise ChimeraMixError(
            f"{folder.path} is not a finished generator run (no {folder.result_file.name}); finish it with "
            "`chimeramix generator train ... --resume`, or pass another --generator"
        )
    assert method.first_run is not None
    kind = declared_run_kinds()[method.first_run]
    trained = folder.read_config(kind.config)
    problems = data_problems(trained.data, config.data)
    if kind.composing is not None and kind.composing.problems is not None:
        problems += kind.composing.problems(trained, config)
    if problems and not config.allow_mismatch:
        raise ChimeraMixError(
            f"generator {folder.path} was trained for {', '.join(problems)}; train a matching generator, or "
            "pass --allow-mismatch to use it anyway"
        )
    return trained
