"""A finished generator run, loaded for use: the frozen generator of ChimeraMix classifier runs (the generator
kind's composer), of ``chimeramix generator sample`` and of the analysis (its compositions)."""

from __future__ import annotations

import os

import torch

from chimeramix.checkpoint import load_weights
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.masks import build_image_masks
from chimeramix.methods.chimeramix.pair_mixing import PairMixing
from chimeramix.methods.chimeramix.segments import mask_segments
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.frozen_run import ComposerContext
from chimeramix.rundir import RunFolder
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


def generator_composer(context: ComposerContext) -> PairMixing:
    """The generator kind's composer (``Composing.composer``): the frozen generator of the finished run, under masks
    of the kind and settings it was trained with; segmentation masks use the segments of the split cached in
    ``context.segments_file`` (default: the generator run's own cache), or those of the images as fed (the masks'
    ``segment_source``). On the fast path its compositions replay as CUDA graphs (:class:`GraphedPairMixing`)."""
    config = generator_config(context.run_dir)
    generator = load_generator(context.run_dir, context.device)
    segments = mask_segments(context.segments_file or RunFolder(context.run_dir).segments, context.data.pixels,
                             config.masks, context.device)
    mixing = PairMixing(build_image_masks(config.masks), mask_size=config.feature_size, segments=segments,
                        model=generator, working_size=config.working_size, autocast_dtype=context.autocast_dtype,
                        align_corners=context.align_corners)
    return GraphedPairMixing(mixing) if context.fast else mixing


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
