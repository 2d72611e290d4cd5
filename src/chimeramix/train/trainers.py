"""The trainers, by kind, and training packs: several runs of one kind trained as one batched model.

A kind of run (:func:`chimeramix.runkinds.run_kinds`) names the function that builds its
:class:`~chimeramix.train.run.TrainingRun` (an objective plus its run state) and the key that says which runs
may share a pack; :func:`train_pack` trains any list of runs of one kind through the one loop
(:func:`chimeramix.train.loop.train_runs`).

A *training pack* (G > 1 runs whose configs are equal but for the fields with the ``packable`` role: the split
seed, its generator and, for classifiers, methods of one batch form) trains in lock-step: one vmapped forward
and backward pass for all G runs, one optimiser over their stacked weights. Each run keeps its own data,
epoch order, RNG, run folder, log, checkpoints, pictures and result, so a packed run resumes alone and a lone
run resumes in a pack. What differs from a lone run: the dropout masks of a classifier pack come from one
global stream, so runs with dropout are statistically, not bitwise, equal to lone runs; without dropout they
agree to floating-point tolerance (grouped and plain convolutions sum in other orders). Results record
``pack_size``; their ``wall_seconds`` is the pack's wall time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from itertools import groupby
from typing import Any

from chimeramix.config import differences
from chimeramix.errors import ChimeraMixError
from chimeramix.runkinds import kind_of
from chimeramix.runtime import run_precision, select_device
from chimeramix.train.loop import train_runs
from chimeramix.train.run import TrainingRun


def check_packable(configs: Sequence[Any]) -> None:
    """Refuse configs of different kinds, or that differ in more than their packable fields, naming them."""
    if len({type(config) for config in configs}) > 1:
        raise ChimeraMixError("a pack holds runs of one kind (classifiers, generators...), not several")
    key = kind_of(configs[0]).pack_key
    first = key(configs[0])
    for config in configs[1:]:
        differing = differences(first, key(config))
        if differing:
            raise ChimeraMixError(
                "runs of one pack may differ only in the split seed, its generator and the method (methods "
                f"with one form of batches and loss), not in {', '.join(differing)}; train them in separate "
                "packs"
            )


def train_pack(
    configs: Sequence[Any],
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train the runs of ``configs`` (one kind; one run, or a pack) into ``run_dirs``; returns their results
    in order.

    ``resume`` continues every run from its latest checkpoint (finished runs return their stored result);
    runs at different epochs train as separate packs. Without ``resume`` a folder that holds a run is refused.
    """
    if len(configs) != len(run_dirs) or not configs:
        raise ValueError("training needs one run folder per config, and at least one config")
    if len(configs) > 1:  # a pack's precision is decided for the pack (see runtime.choose_precision)
        check_packable(configs)
        configs = [replace(config, precision=run_precision(config, select_device(config.device), packed=True))
                   for config in configs]
    kind = kind_of(configs[0])
    opened = [kind.open(config, run_dir, resume=resume) for config, run_dir in zip(configs, run_dirs)]
    results = {index: run for index, run in enumerate(opened) if not isinstance(run, TrainingRun)}
    pending = sorted(((index, run) for index, run in enumerate(opened) if isinstance(run, TrainingRun)),
                     key=lambda item: item[1].start_epoch)
    for _, group in groupby(pending, key=lambda item: item[1].start_epoch):
        members = list(group)
        for (index, _), result in zip(members, train_runs([run for _, run in members], progress=progress)):
            results[index] = result
    return [results[index] for index in range(len(configs))]
