"""The run configs (data, masks, the classifier; the run a method needs first has a config of its own, in the
method's folder), the presets' values, and the protocol's values for a config's masks. Filling a whole config
(which reads the data and the method) is :mod:`chimeramix.resolution`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from chimeramix.config.roles import MACHINE, PACKABLE, SECTIONS, SPLIT, SWEEP, role_field
from chimeramix.protocol import (
    DatasetProtocol,
    Recipe,
    dataset_protocol,
    recipe_values,
)

Preset = Literal["paper", "quick"]
MaskKind = Literal["grid", "seg"]
"""Grid masks, or masks made of segmentation regions: one spelling everywhere (methods, job ids, run names)."""
RegionChoice = Literal["paper", "released"]
SegmentSource = Literal["cached", "augmented"]
MaskDownsampling = Literal["majority", "nearest"]
MaskWeights = Literal["hard", "soft"]
Partition = Literal["first", "random"]
Architecture = Literal["paper", "released"]
BUILTIN_FOLDER_SIZE = 32
"""``DataConfig.folder_image_size`` of built-in datasets (unused by them; the value configs always held)."""


@dataclass
class DataConfig:
    """Which images a run trains on: dataset, images per class k, split seed."""

    dataset: str = "cifar10"
    k: int = 10
    seed: int = role_field(0, SPLIT, PACKABLE)
    data_root: str | None = role_field(None, MACHINE)
    """Data root; ``None``: ``$CHIMERAMIX_DATA``, else the per-user cache (see ``chimeramix.data``)."""
    folder_image_size: int | None = None
    """Side to which ``folder:`` images are resized; ``None``: chosen from the images when the run is set up
    (:func:`chimeramix.protocol.choose_folder_image_size`; built-in datasets: 32, unused)."""
    folder_test_fraction: float = 0.2
    """``folder:`` datasets without ``train/`` and ``test/`` sub-folders: the held-out fraction of each class."""
    folder_folds: int = 0
    """``folder:`` datasets: N >= 2 for N-fold cross-validation instead of a held-out fraction; the split seed s
    then picks fold s as the test split (seeds 0..N-1 are the folds)."""
    skip_unreadable: bool = False
    """``folder:`` datasets: leave out files that cannot be read as images (listed in a warning)."""
    fingerprint: str | None = None
    """``folder:`` datasets: the content fingerprint of the folder's images (``chimeramix.data.folder``),
    filled when the run is set up; a run refuses a folder whose content has changed since."""
    image_size_choice: str | None = role_field(None, MACHINE)
    """Why ``folder_image_size`` has its value, when it was chosen from the images."""


@dataclass
class MaskConfig:
    """The masks m of a mixing run (paper section 3.2): a Bernoulli grid, or regions of a segmentation."""

    kind: MaskKind = role_field("grid", SWEEP)
    grid_cells: int = 4
    """Cells per side of the grid."""
    grid_p: float = 0.5
    grid_shift: bool | None = None
    """Shift the grid by a random offset per batch (recipe ``released``)."""
    segmentation_scale: float | None = None
    """Felzenszwalb ``scale``; ``None``: the dataset's (60 for 32 px data, 400 for STL-10)."""
    segmentation_min_size: int | None = None
    """Felzenszwalb ``min_size``; ``None``: the scale."""
    segmentation_sigma: float = 0.8
    region_choice: RegionChoice | None = None
    """``paper``: each segment of x1 with probability 0.5; ``released``: an id range [l, u) of x2's segments."""
    segment_source: SegmentSource | None = None
    """Which images Felzenszwalb segments: ``cached``: every training image (in [0, 1]) and its flip once, at
    the dataset's size, the segments then cropped and flipped with the image (paper recipe); ``augmented``: every
    image as it is fed, after its augmentation and normalisation (in [-1, 1]), at the size it is fed (64 px for
    the generator of 32 px data), on the fly (released recipe, as the authors' data loaders)."""
    mask_downsampling: MaskDownsampling | None = None
    """How segmentation masks shrink to the feature size: by majority (paper recipe) or by nearest sampling
    (released, ``F.interpolate``'s default as in the authors' code)."""
    images: int = 2
    """N, the images per composition: 2 is ChimeraMix (the masks above); more is multi-image mixing
    (``chimeramix-grid-n3`` etc., :class:`chimeramix.methods.chimeramix.masks.MultiImageMasks`), whose generator
    encodes N images."""
    min_images: int | None = None
    """The smallest N of multi-image mixing: N is drawn uniformly from ``min_images..images`` per batch (``None``:
    always ``images``)."""
    weights: MaskWeights = "hard"
    """Multi-image masks: every unit (grid cell, region) goes to one of the N images (``hard``), or gets
    Dirichlet(``concentration``) weights over them (``soft``)."""
    concentration: float = 1.0
    partition: Partition = "first"
    """Multi-image segmentation masks: whose segments are the units: the first image's (the batch image being
    augmented), or a random one of the N per sample."""

    @property
    def multi_image(self) -> bool:
        """Whether these are multi-image masks (N > 2, a range of N, or soft weights); N = 2 hard masks are
        ChimeraMix's two-image masks."""
        return self.images != 2 or (self.min_images or self.images) != self.images or self.weights != "hard"

    @property
    def label(self) -> str:
        """The masks in job ids and run names: ``grid``, ``seg``, or e.g. ``seg-n3``, ``grid-n4-soft``."""
        if not self.multi_image:
            return self.kind
        low = self.min_images or self.images
        images = f"n{self.images}" if low == self.images else f"n{low}to{self.images}"
        return f"{self.kind}-{images}" + ("-soft" if self.weights == "soft" else "")


@dataclass
class BudgetConfig:
    """How a job was planned to finish within a time budget (``--budget MINUTES``, :mod:`chimeramix.budget`): its
    runs' steps and the costs on the machine that planned them. The run configs hold what this plan chose
    (networks, epochs, repetition), so a budgeted run is reproduced from its config on any machine; this record
    says where those values came from, and it is the same in the generator's config and the classifier's."""

    minutes: float = 20.0
    """The job's wall-time budget, the generator it needs included."""
    generator_steps: int = 0
    """Steps of the generator that the method needs (0: none)."""
    classifier_steps: int = 0
    generator_step_s: float = 0.0
    """Seconds per generator step on the planning machine (0: no generator)."""
    classifier_step_s: float = 0.0
    fixed_s: float = 0.0
    """Seconds of the job's runs besides their steps (start-up, data, the final evaluation, pictures)."""
    planned_s: float = 0.0
    """The job's planned wall time: ``fixed_s`` plus steps times seconds per step."""
    costs: str = ""
    """Where the costs came from: this machine's measurements (``measured on HOST/cpu``) or the defaults."""


@dataclass
class RunBookkeeping:
    """The fields every run config has for how and where it runs (they come first in each config): checkpoints,
    device, precision, logs, the fast path and the preset it was made with."""

    checkpoint_every: int = role_field(10, MACHINE)
    """Epochs between checkpoints (and pictures); the last epoch always writes one."""
    device: str = role_field("auto", MACHINE, SWEEP)
    amp: bool = True
    """bf16 autocast where the device computes bf16 natively (CUDA; CPUs with AVX512-BF16 or AMX)."""
    precision: str | None = role_field(None, MACHINE)
    """``bf16`` or ``fp32``: the precision the run computes in, filled when it opens from ``amp`` and the device
    (:func:`chimeramix.runtime.choose_precision`); a value set here is used as it is."""
    tensorboard: bool = role_field(False, MACHINE)
    fast: bool = role_field(False, MACHINE, SWEEP)
    """Use the fast GPU path (``chimeramix.train.fast``); the reference path otherwise."""
    preset: str = role_field("paper", SWEEP)


@dataclass
class ClassifierConfig(RunBookkeeping):
    """A classifier run with one augmentation method (paper sections 3.1, 4, supplement C.2)."""

    KIND: ClassVar[str] = "classifier"
    QUICK: ClassVar[dict[str, Any]] = {"epochs": 10, "repetition": 50, "checkpoint_every": 5,
                                       "architecture": "wrn-16-2"}
    """The quick preset: WRN-16-2 (on a CPU, WRN-16-8 takes minutes just to evaluate the 10,000 test images)."""
    RETIRED: ClassVar[dict[str, tuple[Any, dict[str, Any]]]] = {
        "cosine_with_ce": (False, {"cosine-loss": {"with_ce": True}})}
    """Fields that configs of earlier versions hold, each with the value that meant nothing (dropped when read) and
    what a config with the other value holds now (read instead): the cosine loss's setting moved into its section."""

    data: DataConfig = role_field(None, SWEEP, factory=DataConfig)
    method: str = role_field("baseline", SWEEP, PACKABLE)
    recipe: Recipe = role_field("paper", SWEEP)
    generator: str | None = role_field(None, SWEEP, SPLIT, PACKABLE)
    """Run directory of a finished generator (``chimeramix-*`` methods)."""
    teacher: str | None = role_field(None, SWEEP, SPLIT)
    """Run directory of a finished classifier run of the same split (a method that mixes under a teacher)."""
    allow_mismatch: bool = role_field(False, MACHINE)
    architecture: str | None = None
    dropout: float = 0.3
    epochs: int = 200
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    nesterov: bool = True
    repetition: int | None = None
    crop_padding: int | None = None
    cutout_size: int | None = None
    masks: MaskConfig | None = None
    """Masks of pixel-space pair mixing (gridmix, segmix); ChimeraMix uses its generator's masks."""
    method_settings: dict[str, dict[str, Any]] = field(default_factory=dict, metadata={SECTIONS: True})
    """The own settings of the method's components that declare them (a front end's, say), by section name:
    ``{SECTION: {FIELD: VALUE}}``; ``config.json`` writes each section beside the fields. Each component
    reads and fills its section (:class:`~chimeramix.components.hooks.ComponentHooks`); other sections are dropped."""
    pair_mixing_p: float = 0.5
    """Probability that a batch is replaced by compositions with same-class partners (pair mixing), or that a
    teacher-mixing method adds a batch of mixes to it (1: every step)."""
    normalization: Literal["subset", "half"] | None = None
    """Inputs normalised with the training subset's statistics (paper recipe) or mean 0.5 / std 0.5."""
    stage_order: Literal["paper", "released"] | None = None
    """``paper``: pair mixing before policy, crop and flip; ``released``: after them (see ``methods``)."""
    eval_every: int = role_field(0, MACHINE)
    """Epochs between test evaluations for curves only (0: only after the last epoch)."""
    budget: BudgetConfig | None = role_field(None, MACHINE)
    """The time-budget plan this run belongs to (``None``: a preset's run)."""


class RunConfigClass(Protocol):
    """What a run config of any kind (:mod:`chimeramix.runkinds`) is: a dataclass whose class names its kind and
    the values of the quick preset."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    KIND: ClassVar[str]
    QUICK: ClassVar[dict[str, Any]]


RunConfig = TypeVar("RunConfig", bound=RunConfigClass)



def protocol_for(data: DataConfig) -> DatasetProtocol:
    """The protocol of ``data.dataset`` (built-in name or ``folder:PATH``; resolve the data first)."""
    return dataset_protocol(data.dataset, data.folder_image_size or BUILTIN_FOLDER_SIZE)


def unset_values(config: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``values`` for the fields of ``config`` that are still ``None``."""
    return {name: value for name, value in values.items() if getattr(config, name) is None}


def resolve_masks(masks: MaskConfig, recipe: str, protocol: DatasetProtocol) -> MaskConfig:
    """Fill the mask fields the dataset's protocol and the recipe decide."""
    scale = masks.segmentation_scale if masks.segmentation_scale is not None else protocol.segmentation_scale
    resolved = replace(masks, segmentation_scale=scale,
                       segmentation_min_size=masks.segmentation_min_size or int(scale))
    return replace(resolved, **unset_values(resolved, recipe_values(recipe, "masks")))
