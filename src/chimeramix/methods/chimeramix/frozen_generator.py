"""A finished generator run, loaded for use: the frozen generator of ChimeraMix classifier runs (checked
against the classifier's data), of ``chimeramix generator sample`` and of the analysis (its compositions)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from chimeramix.checkpoint import load_weights
from chimeramix.components.hooks import GroupComposer, load_reference
from chimeramix.components.registry import Method, declared_run_kinds, parse_method
from chimeramix.config import ClassifierConfig
from chimeramix.data.splits import data_problems
from chimeramix.data.subset import TrainingSet
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import build_image_masks
from chimeramix.methods.chimeramix.pair_mixing import PairMixing
from chimeramix.methods.chimeramix.segments import mask_segments
from chimeramix.methods.chimeramix.settings import GeneratorConfig, generator_config_for, resolve_generator
from chimeramix.rundir import RunFolder
from chimeramix.runtime import autocast_dtype
from chimeramix.train.fast import GraphedFunction


def generator_config(run_dir: str | os.PathLike[str]) -> GeneratorConfig:
    """The resolved config a generator run saved (a classifier run is refused with a clear error)."""
    return RunFolder(run_dir).read_config(GeneratorConfig)


def load_generator(run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> MixingGenerator:
    """The trained generator of a finished run folder, in eval mode on ``device``."""
    folder = RunFolder(run_dir)
    config = generator_config(run_dir)
    path = folder.weights("generator")
    if not path.is_file():
        raise ChimeraMixError(f"{run_dir} holds no trained generator ({path.name}); finish its training with "
                              "`chimeramix generator train ... --resume`")
    generator = MixingGenerator.from_config(config)
    load_weights(generator, path)
    return generator.to(device).eval()


def pair_composer(run_dir: str | os.PathLike[str], data: TrainingSet, device: torch.device, *,
                  segments_file: Path | None = None, autocast_dtype: torch.dtype | None = None,
                  align_corners: bool = False) -> GroupComposer:
    """What a finished generator run makes of same-class pairs (or groups) of ``data`` (its split's training images on
    ``device``): compositions by the frozen ChimeraMix generator under masks of the kind and settings it was
    trained with, or what the composer of a generating run of a component's kind makes of them. Segmentation
    masks use the segments of ``data`` cached in ``segments_file`` (default: the generator run's own cache), or
    those of the images as fed (the masks' ``segment_source``)."""
    folder = RunFolder(run_dir)
    kind = declared_run_kinds().get(folder.kind or "")
    if kind is not None and kind.composing is not None and kind.composing.composer is not None:
        composer: GroupComposer = load_reference(kind.composing.composer)(run_dir, device, autocast_dtype)
        return composer
    config = generator_config(run_dir)
    generator = load_generator(run_dir, device)
    segments = mask_segments(segments_file or folder.segments, data.pixels, config.masks, device)
    return PairMixing(build_image_masks(config.masks), mask_size=config.feature_size, segments=segments,
                      model=generator, working_size=config.working_size, autocast_dtype=autocast_dtype,
                      align_corners=align_corners)


def frozen_pair_mixing(config: ClassifierConfig, data: TrainingSet, folder: RunFolder,
                       device: torch.device) -> GroupComposer:
    """The ``pair_mixing`` hook of a method that composes with a generating first run: :func:`pair_composer` of the
    run ``config.generator`` names, with the classifier run's segments cache and precision; on the fast path its
    compositions replay as CUDA graphs (:class:`GraphedPairMixing`). The released stage order mixes at the
    generator's working size (``align_corners=True``)."""
    composer = pair_composer(str(config.generator), data, device, segments_file=folder.segments,
                             autocast_dtype=autocast_dtype(config.precision),
                             align_corners=config.stage_order == "released")
    return GraphedPairMixing(composer) if config.fast and isinstance(composer, PairMixing) else composer


class GraphedPairMixing(PairMixing):
    """The pair mixing of ``base`` with its compositions called through :class:`GraphedFunction`.

    For ChimeraMix the composition is the frozen generator's forward pass at the batch size, dozens of small
    kernels: a graph per batch shape replaces them. The generator's parameters stop requiring gradients
    (they never get any), so autocast caches no casts. Pixel-space mixing is left eager.
    """

    def __init__(self, base: PairMixing) -> None:
        super().__init__(base.masks, mask_size=base.mask_size, segments=base.segments, model=base.model,
                         working_size=base.working_size, autocast_dtype=base.autocast_dtype,
                         align_corners=base.align_corners)
        if self.model is not None:
            self.model.requires_grad_(False)
        self._graphed = GraphedFunction(super().compose)

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
        if self.model is None:
            return super().compose(images, draws)
        composed: torch.Tensor = self._graphed(images, draws)
        return composed


def check_first_run(config: ClassifierConfig) -> None:
    """The ``check`` hook of a method that composes with a generating first run (ChimeraMix's generator, or a run
    of a kind its component declares): :func:`check_generator` of its resolved config."""
    check_generator(config, parse_method(config.method))


def check_generator(config: ClassifierConfig, method: Method) -> Any:
    """The config of the finished generator run that ``config.generator`` names, checked against the
    classifier's dataset, image size, k, seed, recipe and mask kind (a mismatch is an error unless allowed)."""
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
    if method.first_run != GeneratorConfig.KIND:  # a generating run of another kind: its data must match
        assert method.first_run is not None
        first = folder.read_config(declared_run_kinds()[method.first_run].config)
        _check_match(config, folder, data_problems(first.data, config.data))
        return first
    trained = folder.read_config(GeneratorConfig)
    wanted = resolve_generator(generator_config_for(config))
    problems = data_problems(trained.data, config.data)
    if trained.working_size != wanted.working_size:
        problems.append(f"working size {trained.working_size} px (not {wanted.working_size})")
    wanted_masks = method.generator_masks
    if (trained.masks.kind, trained.masks.images, trained.masks.weights) != (
            wanted_masks.kind, wanted_masks.images, wanted_masks.weights):
        problems.append(f"{trained.masks.label} masks (not {wanted_masks.label})")
    if trained.recipe != config.recipe:
        problems.append(f"the {trained.recipe} recipe (not {config.recipe})")
    _check_match(config, folder, problems)
    return trained


def _check_match(config: ClassifierConfig, folder: RunFolder, problems: list[str]) -> None:
    if problems and not config.allow_mismatch:
        raise ChimeraMixError(
            f"generator {folder.path} was trained for {', '.join(problems)}; train a matching generator, or "
            "pass --allow-mismatch to use it anyway"
        )
