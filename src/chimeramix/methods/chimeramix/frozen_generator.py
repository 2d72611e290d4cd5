"""A finished generator run, loaded for use: the frozen generator of ChimeraMix classifier runs (checked
against the classifier's data), of ``chimeramix generator sample`` and of the analysis (its compositions)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from chimeramix.checkpoint import load_weights
from chimeramix.config import ClassifierConfig, DataConfig, GeneratorConfig
from chimeramix.data.subset import TrainingSet
from chimeramix.errors import ChimeraMixError
from chimeramix.methods import Method
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import build_image_masks
from chimeramix.methods.chimeramix.pair_mixing import GroupComposer, PairMixing
from chimeramix.methods.chimeramix.segments import mask_segments
from chimeramix.methods.hooks import load_reference
from chimeramix.methods.registry import declared_run_kinds, parse_method
from chimeramix.protocol import train_set
from chimeramix.resolution import generator_config_for, resolve_generator
from chimeramix.rundir import RunFolder


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
    if kind is not None and kind.composing is not None:
        composer: GroupComposer = load_reference(kind.composing.composer)(run_dir, device, autocast_dtype)
        return composer
    config = generator_config(run_dir)
    generator = load_generator(run_dir, device)
    segments = mask_segments(segments_file or folder.segments, data.pixels, config.masks, device)
    return PairMixing(build_image_masks(config.masks), mask_size=config.feature_size, segments=segments,
                      model=generator, working_size=config.working_size, autocast_dtype=autocast_dtype,
                      align_corners=align_corners)


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
    if method.first_run != "generator":  # a generating run of a component's kind: its data must match
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


def data_problems(trained: DataConfig, wanted: DataConfig) -> list[str]:
    """How a trained run's data (a generator's, a teacher's) differs from a classifier's: train set, image size,
    k, split seed."""
    problems = []
    if _train_images(trained) != _train_images(wanted):
        same_name = trained.dataset == wanted.dataset
        problems.append(f"dataset {trained.dataset} (not {wanted.dataset})" if not same_name else
                        f"other images or folder options of {trained.dataset} (content {trained.fingerprint}, "
                        f"{trained.folder_image_size} px; not {wanted.fingerprint}, {wanted.folder_image_size} px)")
    if trained.k != wanted.k:
        problems.append(f"k = {trained.k} (not {wanted.k})")
    if trained.seed != wanted.seed:
        problems.append(f"split seed {trained.seed} (not {wanted.seed})")
    return problems


def _check_match(config: ClassifierConfig, folder: RunFolder, problems: list[str]) -> None:
    if problems and not config.allow_mismatch:
        raise ChimeraMixError(
            f"generator {folder.path} was trained for {', '.join(problems)}; train a matching generator, or "
            "pass --allow-mismatch to use it anyway"
        )


def _train_images(data: DataConfig) -> tuple[str, int, str | None, int, float]:
    """What decides a dataset's training images: the train set, and for a folder its image size, content and
    test split."""
    name = train_set(data.dataset)
    if not name.startswith("folder:"):
        return name, 0, None, 0, 0.0
    return name, data.folder_image_size or 0, data.fingerprint, data.folder_folds, data.folder_test_fraction
