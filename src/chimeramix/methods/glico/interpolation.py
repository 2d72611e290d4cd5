"""GLICO's stage 2 (method ``glico``): a finished stage-1 run loaded (:func:`load_glico`; as the classifier's
composer: :func:`latent_interpolation`), and a batch replaced by
images generated from spherical interpolations between the latent codes of same-class pairs.

For each pair (i, j) of the batch: z = slerp(t, z_i, z_j) with one ratio t per batch from
:data:`RATIOS`, a fresh noise code, and the image G(z, code) of the frozen stage-1 generator; the label is the
batch image's. The slerp is per sample (GLICO's code normalises across the batch, which it does not intend).
As in GLICO's code, a generated batch is only normalised: no policy, crop, flip or erasing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from chimeramix.checkpoint import load_weights
from chimeramix.components.hooks import FedSegments
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.frozen_run import ComposerContext
from chimeramix.methods.glico.networks import LatentGenerator, resize_to, slerp
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.rundir import RunFolder
from chimeramix.runtime import autocast

RATIOS = (0.1, 0.2, 0.3, 0.4)


class LatentInterpolation:
    """The pair composer of ``glico`` (see :class:`~chimeramix.components.hooks.GroupComposer`): its draws
    are B x (1 + noise) values, the batch's ratio t then every pair's noise code."""

    images = 2
    augmented = False
    segments: torch.Tensor | FedSegments | None = None
    segment_images: tuple[int, ...] = ()

    def __init__(self, model: LatentGenerator, noise_std: float, autocast_dtype: torch.dtype | None = None) -> None:
        self.model = model.eval().requires_grad_(False)
        self.noise_std = noise_std
        self.autocast_dtype = autocast_dtype

    def sample(self, count: int, rng: torch.Generator, segments: Sequence[torch.Tensor | None] | None = None
               ) -> torch.Tensor:
        """The batch's ratio (one of :data:`RATIOS`) and ``count`` noise codes."""
        ratio = torch.tensor(RATIOS, device=rng.device)[torch.randint(len(RATIOS), (1,), generator=rng,
                                                                        device=rng.device)]
        codes = torch.randn(count, self.model.noise_dim, generator=rng, device=rng.device) * self.noise_std
        return torch.cat([ratio.expand(count, 1), codes], dim=1)

    def compose(self, images: torch.Tensor, draws: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """G(slerp(t, z_i, z_j), code) in [0, 1] at the side of ``images`` for the pairs (i, j) of ``group``."""
        positions, partners = group
        latents = self.model.latents
        with torch.inference_mode(), autocast(images.device.type, self.autocast_dtype):
            z = slerp(draws[:, 0], latents[positions], latents[partners])
            generated = self.model.generate(z, draws[:, 1:])
        return resize_to(generated.float(), images.shape[-1]).clamp(0, 1)


def load_glico(run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[LatentGenerator,
                                                                                            GlicoConfig]:
    """The trained codes and generator of a finished GLICO run (eval mode, on ``device``), and its config."""
    folder = RunFolder(run_dir)
    config = folder.read_config(GlicoConfig)
    path = folder.weights("glico")
    if not path.is_file() or not folder.is_finished:
        raise ChimeraMixError(f"{run_dir} holds no trained GLICO generator ({path.name}); finish its training "
                              "with `chimeramix generator train --kind glico ... --resume`")
    result = folder.read_result()
    model = LatentGenerator(int(result["codes"]), int(result["image_size"]), config.latent_dim, config.noise_dim,
                            config.noise_projection)
    load_weights(model, path)
    return model.to(device).eval(), config


def latent_interpolation(context: ComposerContext) -> LatentInterpolation:
    """The stage-1 kind's composer (``Composing.composer``): the finished stage-1 run in ``context.run_dir`` on its
    device and precision."""
    model, config = load_glico(context.run_dir, context.device)
    return LatentInterpolation(model, config.noise_std, context.autocast_dtype)
