"""The per-step augmentation of a method: parameters sampled in one place, applied in another.

One training step runs the method's stages in the order of the recipe (``ClassifierConfig.stage_order``)::

    paper:     pair mixing -> policy -> crop + flip -> normalise -> erasing -> label mixing
    released:  policy -> crop + flip -> [random erasing] -> normalise -> [cutout] -> pair mixing -> label mixing

In the paper order pair mixing comes first, so that the cached segmentations match the images (compositions that
are not augmented, batches generated from latent codes, are only normalised); erasing works on normalised images, so a
cutout hole is the normalised zero and the random-erasing noise is N(0, 1) like the normalised pixels. The
released order is the authors' code: every image (and, for pair mixing, its partner, independently) goes
through the per-image pipeline first, Random Erasing fills with uniform noise before normalising, and the
generator (or pixel mixing) composes the augmented batch.

Randomness is sampled in one place and applied in another: :meth:`Augmentation.sample` draws everything a step
needs from one ``torch.Generator`` (crop offsets, flips, holes, partners, masks; the torchvision transforms get
a seed for a forked global RNG), and :meth:`Augmentation.apply` is deterministic given those parameters.
Crop, flip, cutout and the mixing run batched on the training device; the torchvision policies and Random
Erasing transform one image at a time on CPU tensors. The image-space methods' own transforms (policies, erasing,
label mixing) are in :mod:`chimeramix.methods.image_space`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from chimeramix.components.hooks import Erasing, GroupComposer, load_reference
from chimeramix.components.registry import Method, component_of
from chimeramix.data.partners import SameClassPartners
from chimeramix.errors import ChimeraMixError
from chimeramix.image_ops import (
    crop_flip,
    crop_flip_ids,
    crop_keys,
    denormalize,
    normalize,
    per_image,
    sample_crops,
    sample_seed,
    with_seed,
)

StageOrder = Literal["paper", "released"]


@dataclass
class ImageParams:
    """The per-image augmentation of a batch (policy, crop and flip, erasing)."""

    policy_seed: int | None
    crop_offsets: torch.Tensor
    flips: torch.Tensor
    erasing: Any
    """The erasing's draws (hole centres, a seed), or ``None``."""


@dataclass
class StepParams:
    """Everything random about one training step, drawn by :meth:`Augmentation.sample`."""

    positions: torch.Tensor
    """Positions of the batch images in the training subset."""
    images: ImageParams
    partners: torch.Tensor | None
    """(N - 1) x B same-class partner positions when the batch is replaced by compositions (N = 2: one
    partner each), else ``None``."""
    partner_images: list[ImageParams] | None
    """Each partner's own augmentation (released stage order only)."""
    draws: torch.Tensor | None
    """The pair mixing's draws for the batch: masks (GridMix, SegMix, ChimeraMix), or a latent interpolation's
    ratio and noise codes."""
    mixing_seed: int | None


class Augmentation:
    """The per-step augmentation of one method on a training subset held on the training device.

    ``images`` are uint8 N x 3 x H x W, ``labels`` int64 N. A step is a pure function of the batch positions
    and a ``torch.Generator``::

        inputs, targets = augmentation(positions, rng)

    ``inputs`` are normalised float images; ``targets`` are class indices, or class probabilities (B x C)
    for mixup / cutmix. ``pair_mixing`` is required exactly when the method has a pair-mixing component.
    """

    def __init__(
        self,
        method: Method,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        num_classes: int,
        crop_padding: int,
        cutout_size: int,
        mean: torch.Tensor,
        std: torch.Tensor,
        pair_mixing: GroupComposer | None = None,
        pair_mixing_p: float = 0.5,
        stage_order: StageOrder = "paper",
    ) -> None:
        if (pair_mixing is None) != (method.pair_mixing is None):
            raise ValueError(f"method {method.name!r} and the given pair mixing do not match")
        if not 0.0 <= pair_mixing_p <= 1.0:
            raise ChimeraMixError(f"the pair-mixing probability must lie in [0, 1], got {pair_mixing_p}")
        if stage_order not in ("paper", "released"):
            raise ChimeraMixError(f"unknown stage order {stage_order!r}; use 'paper' or 'released'")
        self.method = method
        self.images = images
        self.labels = labels.long()
        self.crop_padding = crop_padding
        self.mean = mean.to(images.device)
        self.std = std.to(images.device)
        self.pair_mixing = pair_mixing
        self.pair_mixing_p = pair_mixing_p
        self.released = stage_order == "released"
        self.partners = SameClassPartners(self.labels)
        self.policy: nn.Module | None = _transform(method.component("policy"), images.shape[-1])
        self.erasing: Erasing | None = _transform(method.component("erasing"), self.released, cutout_size)
        self.label_mixing: nn.Module | None = _transform(method.component("label-mixing"), num_classes)

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.apply(self.sample(positions, rng))

    # ------------------------------------------------------------------------------------------- sampling

    def sample(self, positions: torch.Tensor, rng: torch.Generator) -> StepParams:
        """Draw the step's parameters from ``rng`` (always in the same order)."""
        if self.released:
            own = self._sample_images(len(positions), rng)
            partners, partner_images, masks = self._sample_pairs(positions, rng, own)
        else:
            partners, partner_images, masks = self._sample_pairs(positions, rng, None)
            own = self._sample_images(len(positions), rng)
        mixing_seed = sample_seed(rng) if self.label_mixing is not None else None
        return StepParams(positions, own, partners, partner_images, masks, mixing_seed)

    def _sample_images(self, count: int, rng: torch.Generator) -> ImageParams:
        height, width = self.images.shape[-2:]
        policy_seed = sample_seed(rng) if self.policy is not None else None
        offsets, flips = sample_crops(count, self.crop_padding, rng)
        erasing = self.erasing.sample(count, height, width, rng) if self.erasing is not None else None
        return ImageParams(policy_seed, offsets, flips, erasing)

    def _sample_pairs(self, positions: torch.Tensor, rng: torch.Generator, own: ImageParams | None
                      ) -> tuple[torch.Tensor | None, list[ImageParams] | None, torch.Tensor | None]:
        """The coin, and when it says "replace": partners, (released) their augmentation, and masks."""
        mixing = self.pair_mixing
        if mixing is None or not torch.rand(1, generator=rng, device=rng.device).item() < self.pair_mixing_p:
            return None, None, None
        partners = torch.stack([self.partners.sample(positions, rng) for _ in range(mixing.images - 1)])
        group = torch.cat([positions[None], partners])
        partner_images = None
        if own is not None:  # released: each partner gets its own augmentation, and the masks follow it
            partner_images = [self._sample_images(len(positions), rng) for _ in partners]
        augmented = None if own is None else [own, *(partner_images or [])]
        segments = [None if n not in mixing.segment_images
                    else self._segments(mixing, where, None if augmented is None else augmented[n])
                    for n, where in enumerate(group)]
        return partners, partner_images, mixing.sample(len(positions), rng, segments)

    def _segments(self, mixing: GroupComposer, positions: torch.Tensor, params: ImageParams | None
                  ) -> torch.Tensor:
        """The segment ids of the images at ``positions`` as the mixing sees them: after their augmentation
        ``params`` (released order) or as they are (paper order); cached ids cropped and flipped with the image,
        or the images segmented as fed (augmented and normalised; memoised when only crop and flip made them)."""
        source = mixing.segments
        if source is None:
            raise ValueError("segmentation masks need the segments of the training subset")
        if isinstance(source, torch.Tensor):
            if params is None:
                return source[positions]
            return crop_flip_ids(source[positions], params.crop_offsets, params.flips, self.crop_padding)
        images = self.images[positions].float().div(255)
        if params is None:
            return source(normalize(images, self.mean, self.std), crop_keys(positions))
        keyed = self.policy is None and self.erasing is None
        keys = crop_keys(positions, params.crop_offsets, params.flips) if keyed else None
        return source(self._augment_released(images, params), keys)

    # ------------------------------------------------------------------------------------------- applying

    def apply(self, params: StepParams) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented, normalised batch and its targets; deterministic given ``params``."""
        images = self.images[params.positions].float().div(255)
        targets = self.labels[params.positions]
        mixing, partners, draws = self.pair_mixing, params.partners, params.draws
        if self.released:
            images = self._augment_released(images, params.images)
            if mixing is not None and partners is not None and draws is not None:
                assert params.partner_images is not None
                others = [self._to_unit(self._augment_released(self.images[where].float().div(255), own))
                          for where, own in zip(partners, params.partner_images)]
                composed = mixing.compose(torch.stack([self._to_unit(images), *others]), draws,
                                          torch.cat([params.positions[None], partners]))
                images = normalize(composed, self.mean, self.std)
        elif mixing is not None and partners is not None and draws is not None:
            others = [self.images[where].float().div(255) for where in partners]
            images = mixing.compose(torch.stack([images, *others]), draws,
                                    torch.cat([params.positions[None], partners]))
            images = (self._augment_paper(images, params.images) if mixing.augmented
                      else normalize(images, self.mean, self.std))
        else:
            images = self._augment_paper(images, params.images)
        if self.label_mixing is not None and params.mixing_seed is not None:
            label_mixing = self.label_mixing
            images, targets = with_seed(params.mixing_seed, lambda: label_mixing(images, targets))
        return images, targets

    def _augment_paper(self, images: torch.Tensor, params: ImageParams) -> torch.Tensor:
        """policy -> crop + flip -> normalise -> erasing (cutout; Random Erasing with N(0, 1) noise)."""
        if self.policy is not None and params.policy_seed is not None:
            images = per_image(self.policy, images, params.policy_seed)
        images = crop_flip(images, params.crop_offsets, params.flips, self.crop_padding)
        return self._erase(normalize(images, self.mean, self.std), params)

    def _augment_released(self, images: torch.Tensor, params: ImageParams) -> torch.Tensor:
        """policy -> crop + flip -> erasing of images in [0, 1] (Random Erasing: the authors' class, uniform aspect
        and noise) -> normalise -> erasing of normalised images (cutout)."""
        if self.policy is not None and params.policy_seed is not None:
            images = per_image(self.policy, images, params.policy_seed)
        images = crop_flip(images, params.crop_offsets, params.flips, self.crop_padding)
        if self.erasing is not None and not self.erasing.normalised:
            images = self._erase(images, params)
        images = normalize(images, self.mean, self.std)
        return self._erase(images, params) if self.erasing is not None and self.erasing.normalised else images

    def _erase(self, images: torch.Tensor, params: ImageParams) -> torch.Tensor:
        """The erasing stage of ``images`` under ``params`` (none without one)."""
        if self.erasing is None or params.erasing is None:
            return images
        return self.erasing.apply(images, params.erasing)

    def _to_unit(self, images: torch.Tensor) -> torch.Tensor:
        return denormalize(images, self.mean, self.std).clamp(0, 1)


def _transform(name: str | None, *arguments: Any) -> Any:
    """What the transform of a component makes of ``arguments`` (its registry entry's ``transform``: a policy's
    module of the image size, an erasing's stage of the stage order and the hole size, a label mixing's module of
    the number of classes); ``None`` without one."""
    transform = component_of(name).transform if name is not None else None
    return load_reference(transform)(*arguments) if transform is not None else None
