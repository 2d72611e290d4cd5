"""The augmentation methods as batch transforms: the registry (:mod:`~chimeramix.methods.registry`), the
image operations, pair mixing, and the per-step :class:`Augmentation` that runs a method's stages."""

from chimeramix.methods.augmentation import Augmentation, ImageParams, StepParams
from chimeramix.methods.image_ops import channel_stats, crop_flip, cutout, normalize
from chimeramix.methods.pair_mixing import PairMixing
from chimeramix.methods.registry import COMPONENTS, Method, method_names, parse_method

__all__ = [
    "COMPONENTS",
    "Augmentation",
    "ImageParams",
    "Method",
    "PairMixing",
    "StepParams",
    "channel_stats",
    "crop_flip",
    "cutout",
    "method_names",
    "normalize",
    "parse_method",
]
