"""The augmentation methods as batch transforms: one registry, whose keys are the command-line names.

A method is one component or several joined by ``+`` (``chimeramix-seg+trivialaugment``, ``cutout+mixup``).
Every component has a role, and a method holds at most one component per role:

- ``baseline``: only the protocol's reflect-padded random crop and horizontal flip (which every method
  applies); it stands alone.
- mixing, at most one of
  - pair mixing (``gridmix``, ``segmix``, ``chimeramix-grid``, ``chimeramix-seg``): with probability
    ``p`` (0.5) the whole batch is replaced by compositions of each image with a same-class partner of the
    training subset (:class:`~chimeramix.data.SameClassPartners`); labels are unchanged. GridMix / SegMix mix
    pixels under the mask (paper Table 3); ChimeraMix lets the frozen generator mix features.
  - label mixing (``mixup``, ``cutmix``): every batch, lambda ~ Beta(1, 1), soft labels (torchvision v2).
- policy (``autoaugment``, ``trivialaugment``): torchvision v2; AutoAugment uses the CIFAR-10 policy up to
  64 px and the ImageNet policy above (STL-10).
- erasing (``cutout``, ``random-erasing``): one square hole per image, or torchvision's RandomErasing.
- loss (``cosine-loss``): the model is trained with :class:`~chimeramix.losses.CosineLoss`.

One training step runs these stages in a fixed order (:meth:`Augmentation.apply`)::

    pair mixing -> policy -> crop + flip -> normalise -> erasing -> label mixing

Pair mixing comes first so that the cached segmentations match the images; erasing works on normalised images,
so a cutout hole is the dataset mean and the random-erasing noise is N(0, 1) like the normalised pixels.

Randomness is sampled in one place and applied in another: :meth:`Augmentation.sample` draws everything a step
needs from one ``torch.Generator`` (crop offsets, flips, holes, partners, masks; the torchvision transforms
get a seed for a forked global RNG), and :meth:`Augmentation.apply` is deterministic given those parameters.
Crop, flip, cutout and the mixing run batched on the training device; the torchvision policies and
RandomErasing transform one image at a time on CPU tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
from torch import nn
from torchvision.transforms import v2

from chimeramix.config import MaskKind
from chimeramix.data import SameClassPartners
from chimeramix.errors import ChimeraMixError
from chimeramix.masks import GridMasks, SegmentationMasks, mix
from chimeramix.models.generator import MixingGenerator, resize_images

Role = Literal["baseline", "pair-mixing", "label-mixing", "policy", "erasing", "loss"]
ROLE_ORDER: tuple[Role, ...] = ("baseline", "pair-mixing", "label-mixing", "policy", "erasing", "loss")
"""Order of the components in a method's canonical name."""


@dataclass(frozen=True)
class Component:
    """One entry of the registry: its role and what it does."""

    role: Role
    description: str


COMPONENTS: dict[str, Component] = {
    "baseline": Component("baseline", "random crop (reflect padding) and horizontal flip only"),
    "cutout": Component("erasing", "one square hole per image (DeVries & Taylor 2017) of side cutout_size"),
    "random-erasing": Component(
        "erasing", "Random Erasing (Zhong et al. 2020): p 0.5, area 0.02-0.4, aspect 0.3-3.3, noise fill"
    ),
    "cosine-loss": Component("loss", "cosine loss to one-hot class embeddings (Barz & Denzler 2020)"),
    "mixup": Component("label-mixing", "MixUp (Zhang et al. 2018) every batch, lambda ~ Beta(1, 1)"),
    "cutmix": Component("label-mixing", "CutMix (Yun et al. 2019) every batch, lambda ~ Beta(1, 1)"),
    "autoaugment": Component("policy", "AutoAugment (CIFAR-10 policy; ImageNet policy above 64 px)"),
    "trivialaugment": Component("policy", "TrivialAugment (wide)"),
    "gridmix": Component("pair-mixing", "same-class pairs mixed in pixel space under grid masks (Table 3)"),
    "segmix": Component("pair-mixing", "same-class pairs mixed in pixel space under segment masks (Table 3)"),
    "chimeramix-grid": Component("pair-mixing", "ChimeraMix+Grid: compositions by the frozen generator"),
    "chimeramix-seg": Component("pair-mixing", "ChimeraMix+Seg: compositions by the frozen generator"),
}
"""The registry of method components; the keys are the command-line names."""

MIXING_ROLES: tuple[Role, ...] = ("pair-mixing", "label-mixing")
MASK_KINDS: dict[str, MaskKind] = {"gridmix": "grid", "chimeramix-grid": "grid", "segmix": "segmentation",
                                   "chimeramix-seg": "segmentation"}
T = TypeVar("T")

RANDOM_ERASING = {"p": 0.5, "scale": (0.02, 0.4), "ratio": (0.3, 3.3), "value": "random"}
MIXING_ALPHA = 1.0


@dataclass(frozen=True)
class Method:
    """A parsed method name: at most one component per role."""

    components: tuple[str, ...]
    """Component names in canonical order (see :data:`ROLE_ORDER`)."""

    @property
    def name(self) -> str:
        """The canonical name, e.g. ``chimeramix-seg+trivialaugment``."""
        return "+".join(self.components)

    def component(self, role: Role) -> str | None:
        """The component with this role, or ``None``."""
        return next((name for name in self.components if COMPONENTS[name].role == role), None)

    @property
    def pair_mixing(self) -> str | None:
        return self.component("pair-mixing")

    @property
    def needs_generator(self) -> bool:
        """Whether the method composes images with a trained ChimeraMix generator."""
        return (self.pair_mixing or "").startswith("chimeramix-")

    @property
    def mask_kind(self) -> MaskKind | None:
        """``grid`` or ``segmentation`` for pair mixing, else ``None``."""
        return MASK_KINDS.get(self.pair_mixing or "")

    @property
    def cosine_loss(self) -> bool:
        return self.component("loss") is not None


def method_names() -> list[str]:
    """The component names, for ``--help`` and error messages."""
    return list(COMPONENTS)


def parse_method(name: str) -> Method:
    """Parse ``A`` or ``A+B+...``; unknown names and senseless combinations raise :class:`ChimeraMixError`.

    >>> parse_method("trivialaugment+chimeramix-seg").name
    'chimeramix-seg+trivialaugment'
    >>> parse_method("mixup+cutmix")
    Traceback (most recent call last):
    ...
    chimeramix.errors.ChimeraMixError: method 'mixup+cutmix' combines two mixing methods (mixup, cutmix); \
each batch is mixed by one method: keep one of them
    """
    parts = [part.strip() for part in name.split("+")]
    unknown = [part for part in parts if part not in COMPONENTS]
    if unknown:
        raise ChimeraMixError(
            f"unknown method {unknown[0]!r} in {name!r}; use one of {', '.join(COMPONENTS)}, or several "
            "joined by '+' (e.g. chimeramix-seg+trivialaugment)"
        )
    if len(set(parts)) < len(parts):
        raise ChimeraMixError(f"method {name!r} names a component twice; name each one once")
    if "baseline" in parts and len(parts) > 1:
        raise ChimeraMixError(
            f"method {name!r} combines 'baseline' with other methods; baseline means no augmentation beyond "
            "crop and flip: drop 'baseline'"
        )
    mixing = [part for part in parts if COMPONENTS[part].role in MIXING_ROLES]
    if len(mixing) > 1:
        raise ChimeraMixError(
            f"method {name!r} combines two mixing methods ({', '.join(mixing)}); each batch is mixed by one "
            "method: keep one of them"
        )
    for role in ("policy", "erasing"):
        same = [part for part in parts if COMPONENTS[part].role == role]
        if len(same) > 1:
            raise ChimeraMixError(
                f"method {name!r} combines two {role} methods ({', '.join(same)}); keep one of them"
            )
    ordered = sorted(parts, key=lambda part: ROLE_ORDER.index(COMPONENTS[part].role))
    return Method(tuple(ordered))


# ------------------------------------------------------------------------------------------ batched pieces


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (in [0, 1] units) of uint8 N x 3 x H x W images.

    The classifier normalises with the statistics of its own training subset: no constants from data the
    small-data protocol does not see, and the same rule for every dataset and user folder.
    """
    pixels = images.double().div(255).transpose(0, 1).flatten(1)
    return pixels.mean(dim=1).float(), pixels.std(dim=1).clamp_min(1e-3).float()


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per channel for float images in [0, 1]."""
    return (images - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def sample_crops(
    batch_size: int, padding: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop offsets (B x 2, each in ``0..2 * padding``) and horizontal flips (B, bool)."""
    device = generator.device
    offsets = torch.randint(0, 2 * padding + 1, (batch_size, 2), generator=generator, device=device)
    flips = torch.rand(batch_size, generator=generator, device=device) < 0.5
    return offsets, flips


def crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int) -> torch.Tensor:
    """Reflect-pad by ``padding``, crop each image at its (top, left) offset back to H x W, flip where asked.

    >>> x = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    >>> crop_flip(x, torch.tensor([[1, 1]]), torch.tensor([True]), 1)[0, 0, 0].tolist()
    [3.0, 2.0, 1.0, 0.0]
    """
    batch, _, height, width = images.shape
    padded = nn.functional.pad(images, (padding,) * 4, mode="reflect") if padding else images
    rows = offsets[:, 0, None] + torch.arange(height, device=images.device)
    columns = torch.arange(width, device=images.device).expand(batch, width)
    columns = offsets[:, 1, None] + torch.where(flips[:, None], columns.flip(1), columns)
    index = torch.arange(batch, device=images.device)[:, None, None]
    cropped = padded[index, :, rows[:, :, None], columns[:, None, :]]  # B x H x W x C
    return cropped.permute(0, 3, 1, 2)


def sample_cutout(batch_size: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Hole centres (B x 2: row, column), uniform over the image."""
    device = generator.device
    rows = torch.randint(0, height, (batch_size,), generator=generator, device=device)
    columns = torch.randint(0, width, (batch_size,), generator=generator, device=device)
    return torch.stack([rows, columns], dim=1)


def cutout(images: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square around each centre (rows ``c - size // 2`` up to, not including,
    ``c - size // 2 + size``), clipped at the border as in DeVries & Taylor's code."""
    _, _, height, width = images.shape
    start = centres - size // 2
    rows = torch.arange(height, device=images.device)
    columns = torch.arange(width, device=images.device)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + size)
    in_columns = (columns >= start[:, 1:]) & (columns < start[:, 1:] + size)
    hole = in_rows[:, :, None] & in_columns[:, None, :]
    return images.masked_fill(hole[:, None], 0.0)


def sample_seed(generator: torch.Generator) -> int:
    """A seed drawn from ``generator`` for a transform that uses torch's global RNG."""
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())


def with_seed(seed: int, transform: Callable[[], T]) -> T:
    """Run ``transform`` with torch's global CPU RNG seeded by ``seed``; the global state is restored."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return transform()


def per_image(transform: nn.Module, images: torch.Tensor, seed: int) -> torch.Tensor:
    """Apply a torchvision transform to each image separately, on CPU, with a seeded global RNG."""
    cpu = images.cpu()
    result = with_seed(seed, lambda: torch.stack([transform(image) for image in cpu]))
    return result.to(images.device)


# ------------------------------------------------------------------------------------------------ pair mixing


class PairMixing:
    """Compositions of images with same-class partners under grid or segmentation masks.

    Without ``model`` the images are mixed in pixel space (GridMix / SegMix); with a frozen
    :class:`~chimeramix.models.generator.MixingGenerator` the generator mixes their features (ChimeraMix):
    images are taken to [-1, 1] at its ``working_size`` (bilinear), composed under ``torch.inference_mode``
    and resized back. A mask of ones keeps the batch image. Segmentation masks choose regions of the batch
    image's segments (``segments``: N x H x W ids of the training subset, on the training device).
    ``mask_size`` is the side masks are drawn at: the image side in pixel space, the generator's feature
    side for ChimeraMix (the masks it was trained with).
    """

    def __init__(
        self,
        masks: GridMasks | SegmentationMasks,
        *,
        mask_size: int,
        segments: torch.Tensor | None = None,
        model: MixingGenerator | None = None,
        working_size: int | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if isinstance(masks, SegmentationMasks) and segments is None:
            raise ValueError("segmentation masks need the segments of the training subset")
        if model is not None and working_size is None:
            raise ValueError("a generator needs its working size")
        self.masks = masks
        self.mask_size = mask_size
        self.segments = segments
        self.model = model
        self.working_size = working_size
        self.autocast_dtype = autocast_dtype

    def sample_masks(self, positions: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """B x 1 x s x s masks (s = ``mask_size``) for the batch images at ``positions``."""
        if isinstance(self.masks, GridMasks):
            return self.masks.sample(len(positions), self.mask_size, generator)
        assert self.segments is not None
        return self.masks.sample(self.segments[positions], generator, self.mask_size)

    def compose(self, x1: torch.Tensor, x2: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Compositions of float images in [0, 1] (same shape out)."""
        if self.model is None:
            return mix(x1, x2, masks)
        assert self.working_size is not None
        size = x1.shape[-1]
        dtype = self.autocast_dtype
        autocast = torch.autocast(x1.device.type, dtype or torch.bfloat16, enabled=dtype is not None)
        with torch.inference_mode(), autocast:
            composed = self.model.compose(
                resize_images(x1 * 2 - 1, self.working_size),
                resize_images(x2 * 2 - 1, self.working_size),
                masks,
            )
        # Leaving inference mode: the ops below make ordinary tensors the classifier can train on.
        return resize_images(composed.float(), size).add(1).div(2).clamp(0, 1)


# --------------------------------------------------------------------------------------------- augmentation


@dataclass
class StepParams:
    """Everything random about one training step, drawn by :meth:`Augmentation.sample`."""

    positions: torch.Tensor
    """Positions of the batch images in the training subset."""
    partners: torch.Tensor | None
    """Same-class partner positions when the batch is replaced by compositions, else ``None``."""
    masks: torch.Tensor | None
    policy_seed: int | None
    crop_offsets: torch.Tensor
    flips: torch.Tensor
    cutout_centres: torch.Tensor | None
    erasing_seed: int | None
    mixing_seed: int | None


class Augmentation:
    """The per-step augmentation of one method on a training subset held on the training device.

    ``images`` are uint8 N x 3 x H x W, ``labels`` int64 N. A step is a pure function of the batch positions
    and a ``torch.Generator``::

        inputs, targets = augmentation(positions, generator)

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
        pair_mixing: PairMixing | None = None,
        pair_mixing_p: float = 0.5,
    ) -> None:
        if (pair_mixing is None) != (method.pair_mixing is None):
            raise ValueError(f"method {method.name!r} and the given pair mixing do not match")
        if not 0.0 <= pair_mixing_p <= 1.0:
            raise ChimeraMixError(f"the pair-mixing probability must lie in [0, 1], got {pair_mixing_p}")
        self.method = method
        self.images = images
        self.labels = labels.long()
        self.crop_padding = crop_padding
        self.cutout_size = cutout_size
        self.mean = mean.to(images.device)
        self.std = std.to(images.device)
        self.pair_mixing = pair_mixing
        self.pair_mixing_p = pair_mixing_p
        self.partners = SameClassPartners(self.labels)
        self.policy = _policy(method.component("policy"), images.shape[-1])
        erasing = method.component("erasing")
        self.random_erasing = v2.RandomErasing(**RANDOM_ERASING) if erasing == "random-erasing" else None
        self.cutout = erasing == "cutout"
        label_mixing = method.component("label-mixing")
        self.label_mixing: nn.Module | None = None
        if label_mixing == "mixup":
            self.label_mixing = v2.MixUp(alpha=MIXING_ALPHA, num_classes=num_classes)
        elif label_mixing == "cutmix":
            self.label_mixing = v2.CutMix(alpha=MIXING_ALPHA, num_classes=num_classes)

    def __call__(
        self, positions: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.apply(self.sample(positions, generator))

    def sample(self, positions: torch.Tensor, generator: torch.Generator) -> StepParams:
        """Draw the step's parameters from ``generator`` (always in the same order)."""
        batch, (height, width) = len(positions), self.images.shape[-2:]
        partners = masks = None
        if self.pair_mixing is not None:
            replace = torch.rand(1, generator=generator, device=generator.device).item() < self.pair_mixing_p
            if replace:
                partners = self.partners.sample(positions, generator)
                masks = self.pair_mixing.sample_masks(positions, generator)
        policy_seed = sample_seed(generator) if self.policy is not None else None
        offsets, flips = sample_crops(batch, self.crop_padding, generator)
        centres = sample_cutout(batch, height, width, generator) if self.cutout else None
        erasing_seed = sample_seed(generator) if self.random_erasing is not None else None
        mixing_seed = sample_seed(generator) if self.label_mixing is not None else None
        return StepParams(positions, partners, masks, policy_seed, offsets, flips, centres, erasing_seed,
                          mixing_seed)

    def apply(self, params: StepParams) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented, normalised batch and its targets; deterministic given ``params``."""
        images = self.images[params.positions].float().div(255)
        targets = self.labels[params.positions]
        if self.pair_mixing is not None and params.partners is not None and params.masks is not None:
            partners = self.images[params.partners].float().div(255)
            images = self.pair_mixing.compose(images, partners, params.masks)
        if self.policy is not None and params.policy_seed is not None:
            images = per_image(self.policy, images, params.policy_seed)
        images = crop_flip(images, params.crop_offsets, params.flips, self.crop_padding)
        images = normalize(images, self.mean, self.std)
        if params.cutout_centres is not None:
            images = cutout(images, params.cutout_centres, self.cutout_size)
        if self.random_erasing is not None and params.erasing_seed is not None:
            images = per_image(self.random_erasing, images, params.erasing_seed)
        if self.label_mixing is not None and params.mixing_seed is not None:
            mixing = self.label_mixing
            images, targets = with_seed(params.mixing_seed, lambda: mixing(images, targets))
        return images, targets


def _policy(name: str | None, image_size: int) -> nn.Module | None:
    if name == "autoaugment":
        policy = v2.AutoAugmentPolicy.CIFAR10 if image_size <= 64 else v2.AutoAugmentPolicy.IMAGENET
        return v2.AutoAugment(policy)
    if name == "trivialaugment":
        return v2.TrivialAugmentWide()
    return None
