"""The settings of the SuperMix student (the classifier config's section ``supermix``), how they resolve, its
quick preset's values, its command-line options and what its cost depends on. Imports no PyTorch.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

from chimeramix.config import ClassifierConfig, protocol_for, to_dict
from chimeramix.errors import ChimeraMixError

SECTION = "supermix"
POOL_FILE = "supermix-pool.pt"
"""The run folder's file of the pool of mixes, made once before training (uint8 N x 3 x H x W)."""
QUICK = {"pool_per_image": 1}
"""Students of the quick preset: a pool of one mix per training image (making the default 10 takes about an hour
on 2 CPU cores at k = 10: a weak quick teacher accepts about a quarter of the mixes of a batch of 100 after 50
updates)."""
OPTIONS = ("images", "mask_size", "pool_per_image")
"""Fields with a command-line option ``--supermix-NAME``."""


@dataclass
class SuperMixConfig:
    """SuperMix (Dabouei et al. 2021; ``shared/docs/baselines.md`` section 3): masks over K images optimised
    until a frozen teacher classifies the mix as a Dirichlet mixture of the inputs' (predicted) classes."""

    images: int = 2
    """K, the images per mix (partners by cyclic shift of the batch)."""
    mask_size: int | None = None
    """w, the side of the mask logits; ``None``: a quarter of the image side (8 for 32 px, as SuperMix's README
    for CIFAR-100)."""
    alpha: float = 3.0
    """Concentration of the Dirichlet mixing weights lambda."""
    sparsity: float = 25.0
    """lambda_s, the weight of mean |m (m - 1)|."""
    sigma: float = 1.0
    """Gaussian smoothing of the gradient, in mask cells (int(5 sigma) taps)."""
    max_iterations: int = 50
    tolerance: float = 0.7
    """Stop when at most this fraction of the mixes is unsuccessful."""
    gamma: float = 2.0
    """gamma of Eq. 9: the student's loss is gamma [CE(real) + CE(mix)]."""
    pool_per_image: int = 10
    """Mixes per training image made once before training and stored in the run folder (10: SuperMix's 500,000
    for CIFAR's 50,000); 0: mixes made on the fly for every mixed step."""
    pool_batch: int = 100
    """Images per mask optimisation when making the pool (SuperMix's batch)."""
    pool_crop_padding: int = 2
    """Reflect padding of the random crop of pool mixes in student batches (SuperMix's 2 px; flips too)."""


def check_settings(supermix: SuperMixConfig, image_size: int) -> SuperMixConfig:
    """Check SuperMix's settings and fill w (a quarter of the image side)."""
    if supermix.images < 2:
        raise ChimeraMixError(f"SuperMix mixes K >= 2 images, got supermix.images = {supermix.images}; use 2 or "
                              "more")
    if supermix.pool_per_image < 0 or supermix.max_iterations < 0 or not 0 <= supermix.tolerance <= 1:
        raise ChimeraMixError("supermix.pool_per_image and max_iterations must be >= 0 and tolerance in [0, 1]; "
                              "fix the SuperMix settings")
    return replace(supermix, mask_size=supermix.mask_size or max(image_size // 4, 1))


def resolve_supermix(config: ClassifierConfig, settings: SuperMixConfig) -> ClassifierConfig:
    """The student's settings in full (:func:`check_settings`)."""
    section = to_dict(check_settings(settings, protocol_for(config.data).image_size))
    return replace(config, method_settings={**config.method_settings, SECTION: section})


def pool_mixes(config: ClassifierConfig) -> int:
    """The mixes of a resolved student's pool, made before training (0: mixes made on the fly)."""
    from chimeramix.resolution import num_classes  # reads a folder dataset: only when planning

    per_image = int((config.method_settings.get(SECTION) or {}).get("pool_per_image", 0))
    return per_image * config.data.k * num_classes(config.data.dataset)


def cost_variant(config: ClassifierConfig) -> str:
    """What a student's step costs besides its network: mixes from the pool, or made on the fly."""
    per_image = (config.method_settings.get(SECTION) or {}).get("pool_per_image", SuperMixConfig.pool_per_image)
    return "supermix-pool" if per_image else "supermix-fly"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("SuperMix (--method supermix)")
    group.add_argument("--supermix-images", type=int, metavar="K", help="images per mix (default 2)")
    group.add_argument("--supermix-mask-size", type=int, metavar="W",
                       help="side of the mask logits (default: a quarter of the image side)")
    group.add_argument("--supermix-pool-per-image", type=int, metavar="N",
                       help="mixes per training image made once before training (default 10); 0: mixes made "
                            "on the fly")


def from_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    """The section the ``--supermix-*`` options give (``None``: none given)."""
    given = {name: getattr(args, f"supermix_{name}") for name in OPTIONS}
    given = {name: value for name, value in given.items() if value is not None}
    return given or None
