"""Training a classifier with one augmentation method (paper sections 3.1 "Classification", 4; supp. C.2).

The recipe: SGD with Nesterov momentum 0.9 and weight decay on every parameter, the learning rate annealed
per step to 0 on a cosine, for ``epochs`` epochs of the k x C training images repeated ``max(R // k, 1)``
times. The training subset lives on the training device as one uint8 tensor; an epoch's order is a pure
function of (seed, epoch) and every batch is augmented by :class:`chimeramix.methods.Augmentation` from one
seeded ``torch.Generator`` whose state is checkpointed, so ``resume`` continues a run exactly. After the last
epoch the model is evaluated once on the full test set (``eval_every`` adds test accuracies to the log for
curves only; no epoch is ever chosen on the test set).

A method with a front end trains the front end's network (its component builds it,
:class:`~chimeramix.components.hooks.FrontEnd`) under the same recipe; the parameters the network lists in
``front_end_parameters()`` form a group of their own without weight decay. A component may replace the learning
rate schedule and draw pictures at the start and at every checkpoint (its hooks).

The step is :class:`~chimeramix.classifier.objective.ClassifierObjective`; the loop is
:func:`chimeramix.train.loop.train_runs` (reference or fast path, one run or a pack).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from chimeramix.bundle import manifest, write_bundle
from chimeramix.classifier.objective import ClassifierObjective
from chimeramix.components.hooks import GroupComposer, load_reference
from chimeramix.components.registry import Method, parse_method
from chimeramix.config import ClassifierConfig
from chimeramix.data import ImageSet, TrainingSet, load_data_split, load_training_set, repetition
from chimeramix.evaluation import evaluate
from chimeramix.image_ops import channel_stats
from chimeramix.methods.augmentation import Augmentation
from chimeramix.models.classifiers import count_parameters, network_of
from chimeramix.protocol import steps_per_epoch
from chimeramix.resolution import resolve_classifier
from chimeramix.rundir import RunFolder
from chimeramix.runtime import (
    autocast_dtype,
    make_rng,
    run_precision,
    seed_everything,
    select_device,
    sgd_options,
    stream_seed,
)
from chimeramix.train.run import TrainingRun, check_run_dir, modules_of, pack_key_of
from chimeramix.train.trainers import train_pack

AUGMENTATION_STREAM = 1
"""Seed stream of the augmentation RNG (weights and dropout use the plain seed)."""
HALF = (0.5, 0.5, 0.5)


def cosine_lr(step: int, total_steps: int, base_lr: float) -> float:
    """The protocol's learning rate before ``step`` (0-based): cosine annealing from ``base_lr`` to 0.

    >>> cosine_lr(0, 100, 0.1), cosine_lr(50, 100, 0.1), cosine_lr(100, 100, 0.1)
    (0.1, 0.05, 0.0)
    """
    return base_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


class MethodBatches(Protocol):
    """A component's own batches (its ``batches`` hook, :class:`~chimeramix.components.hooks.ComponentHooks`)."""

    def __call__(self, positions: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...

    def epoch_columns(self) -> dict[str, float | None]: ...

    def result_fields(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MethodFunctions:
    """The functions a method's components give its classifier run: their hooks' ``module:function`` references
    (:class:`~chimeramix.components.hooks.ComponentHooks`), loaded once, in the components' order."""

    checks: list[Callable[[ClassifierConfig], None]]
    """Refuse what the run cannot train (the run it needs first), before its folder is written."""
    pair_mixing: Callable[..., GroupComposer] | None
    """``(config, data, folder, device)``: the pair (or group) mixing; ``None``: the method mixes no pairs."""
    batches: Callable[..., MethodBatches] | None
    """``(config, augmentation, data, folder, device)``: batches of its own, which replace the augmentation's."""
    criterion: Callable[[ClassifierConfig, int], nn.Module] | None
    """``(config, num_classes)``: the loss; ``None``: cross-entropy."""
    lr_schedules: list[Callable[..., torch.optim.lr_scheduler.LRScheduler | None]]
    """``(config, optimizer, total_steps)``: a schedule of its own, or ``None``; the first one given wins."""
    pictures: list[Callable[..., None]]
    """``(model, picture_path, image_size, initial)``: pictures at the start and at every checkpoint."""

    @classmethod
    def of(cls, method: Method) -> MethodFunctions:
        every = [hooks for _, hooks in method.hooks()]

        def loaded(hook: str) -> list[Callable[..., Any]]:
            """The functions the components' ``hook`` references name."""
            return [load_reference(reference) for hooks in every if (reference := getattr(hooks, hook)) is not None]

        def first(hook: str) -> Callable[..., Any] | None:
            return next(iter(loaded(hook)), None)

        return cls(checks=loaded("check"), pair_mixing=first("pair_mixing"), batches=first("batches"),
                   criterion=first("criterion"), lr_schedules=loaded("lr_schedule"), pictures=loaded("pictures"))

    def draw_pictures(self, model: nn.Module, folder: RunFolder, image_size: int, *, initial: bool) -> None:
        """The method's pictures of ``model`` as it is now."""
        for draw in self.pictures:
            draw(model, folder.picture, image_size, initial)


@dataclass(kw_only=True)
class ClassifierRun(TrainingRun):
    """One classifier run while it trains: its method, augmentation and test set besides the shared state."""

    kind: ClassVar[str] = "classifier"
    method: Method
    functions: MethodFunctions
    test: ImageSet
    augmentation: Augmentation
    mean: torch.Tensor
    std: torch.Tensor
    batches: MethodBatches | None = None
    """A component's own batches (real batch plus mixes under a teacher), which replace :attr:`augmentation`'s."""

    @property
    def model(self) -> nn.Module:
        return self.objective.model  # type: ignore[return-value]

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return autocast_dtype(self.config.precision)

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.batches or self.augmentation)(positions, self.rng)

    def log_row(self, epoch: int, means: dict[str, float]) -> dict[str, Any]:
        """The lr, every ``eval_every`` epochs a test accuracy (for curves only), and the batches' columns."""
        row: dict[str, Any] = {"lr": self.schedulers["lr"].get_last_lr()[0], "test_accuracy": None,
                               **(self.batches.epoch_columns() if self.batches is not None else {})}
        every = self.config.eval_every
        if every and (epoch + 1) % every == 0 and epoch + 1 != self.epochs:
            row["test_accuracy"] = self.test_metrics()["accuracy"]
        return row

    def test_metrics(self) -> dict[str, Any]:
        """Metrics of the model on the whole test set."""
        return evaluate(self.model, self.test, mean=self.mean, std=self.std, device=self.device,
                        autocast_dtype=self.amp_dtype)

    def result(self) -> dict[str, Any]:
        """Evaluates once on the test set; writes the model bundle (``chimeramix.bundle``)."""
        write_bundle(self.folder, self.model, manifest(self.config, self.method.name, self.test.classes,
                                                       self.test.image_size[0], self.mean, self.std))
        pool = self.batches.result_fields() if self.batches is not None else {}
        mixing = self.augmentation.pair_mixing
        stats = getattr(mixing.segments, "stats", None) if mixing is not None else None
        if stats is not None:  # segments computed from the images as fed report how they were drawn
            pool["segmentation"] = stats()
        return {**pool, "metrics": self.test_metrics(), "method": self.method.name, "data_notes": list(self.test.notes),
                "parameters": count_parameters(self.model),
                "normalization": {"mean": self.mean.tolist(), "std": self.std.tolist()}}

    def checkpointed(self) -> dict[str, Any]:
        return {"modules": modules_of(self.objective), "optimizers": self.optimizers,
                "schedulers": self.schedulers, "rngs": {"augment": self.rng}}

    def on_checkpoint(self) -> None:
        """The method's pictures as the network is now."""
        self.functions.draw_pictures(self.model, self.folder, self.test.image_size[0], initial=False)


def pack_key(config: ClassifierConfig) -> dict[str, Any]:
    """What classifier runs of one training pack share: the resolved config without its packable fields, and
    the form of the method's batches and loss (soft or hard targets; the loss component, or cross-entropy). A run of a
    component that packs alone (its own teacher; batches whose size varies) packs with nothing: its key names it."""
    resolved = resolve_classifier(config)
    method = parse_method(resolved.method)
    packs_alone = any(hooks.packs_alone for _, hooks in method.hooks())
    alone = {"trains_alone": [resolved.method, resolved.data.seed]} if packs_alone else {}
    return {**pack_key_of(resolved, ClassifierConfig), "batches.soft_labels": method.soft_labels,
            "batches.loss": method.component("loss"), "model.front_end": method.front_end, **alone}


def open_classifier_run(
    config: ClassifierConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
) -> ClassifierRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (from its latest checkpoint when ``resume``); the
    stored result instead when ``resume`` finds the run finished. A run folder that holds another config,
    or a run when ``resume`` is off, is refused."""
    config = resolve_classifier(config)
    folder = RunFolder(run_dir)
    finished = check_run_dir(config, folder, resume, "classifier")
    if finished is not None:
        return finished
    method = parse_method(config.method)
    functions = MethodFunctions.of(method)
    device = select_device(config.device)
    config = replace(config, precision=run_precision(config, device))
    if config.batch_size is None or config.repetition is None or config.lr is None:
        raise ValueError("open_classifier_run resolves the config first")
    for check in functions.checks:  # the run it needs first, and what else a component refuses
        check(config)
    data = load_training_set(config.data, device)
    test = load_data_split(config.data, "test")
    if not folder.config_file.is_file():
        folder.write_config(config, device)

    seed_everything(config.data.seed)
    model = _model(config, data, device)
    criterion = (functions.criterion(config, data.num_classes) if functions.criterion else nn.CrossEntropyLoss()
                 ).to(device)
    objective = ClassifierObjective(model, criterion, autocast_dtype(config.precision))
    optimizer = torch.optim.SGD(parameter_groups(model, float(config.weight_decay or 0.0)), lr=config.lr,
                                momentum=config.momentum, nesterov=config.nesterov,
                                **sgd_options(device, config.fast))
    repeats = repetition(config.data.k, config.repetition)
    total_steps = steps_per_epoch(len(data.images), repeats, config.batch_size) * config.epochs
    scheduler = _lr_scheduler(config, functions, optimizer, total_steps)
    rng = make_rng(stream_seed(config.data.seed, AUGMENTATION_STREAM), device)
    # before the checkpoint restores the RNGs: loading the generator draws from them
    mean, std = channel_stats(data.images) if config.normalization != "half" else (torch.tensor(HALF),) * 2
    pair_mixing = functions.pair_mixing(config, data, folder, device) if functions.pair_mixing else None
    augmentation = _augmentation(config, method, data, pair_mixing, mean, std)
    batches = functions.batches(config, augmentation, data, folder, device) if functions.batches else None
    run = ClassifierRun(config=config, folder=folder, device=device, objective=objective,
                        optimizers={"sgd": optimizer}, schedulers={"lr": scheduler}, rng=rng,
                        count=len(data.images), repeats=repeats, method=method, functions=functions, test=test,
                        augmentation=augmentation, mean=mean, std=std, batches=batches)
    run.start(resume)
    if run.step == 0:
        functions.draw_pictures(model, folder, data.images.shape[-1], initial=True)
    return run


def _model(config: ClassifierConfig, data: TrainingSet, device: torch.device) -> nn.Module:
    """The run's network on ``device`` (a front end's for the training images' size)."""
    return network_of(str(config.architecture), config.method, config.method_settings, data.num_classes,
                      dropout=config.dropout, image_size=data.images.shape[-1]).to(device)


def _lr_scheduler(config: ClassifierConfig, functions: MethodFunctions, optimizer: torch.optim.Optimizer,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning rate per step: the protocol's cosine annealing to 0, unless a component of the method sets
    its own schedule (its ``lr_schedule`` hook)."""
    for schedule in functions.lr_schedules:
        own = schedule(config, optimizer, total_steps)
        if own is not None:
            return own
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, total_steps, 1.0))


def _augmentation(config: ClassifierConfig, method: Method, data: TrainingSet, pair_mixing: GroupComposer | None,
                  mean: torch.Tensor, std: torch.Tensor) -> Augmentation:
    """The method's batches of the training images: its ``pair_mixing`` and the config's augmentation settings,
    normalised with ``mean`` and ``std``."""
    return Augmentation(
        method, data.images, data.labels, num_classes=data.num_classes, mean=mean, std=std,
        crop_padding=int(config.crop_padding or 0), cutout_size=int(config.cutout_size or 0),
        pair_mixing=pair_mixing, pair_mixing_p=config.pair_mixing_p, stage_order=config.stage_order or "paper",
    )


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The model's parameters with ``weight_decay``, and those of its front end (a network's
    ``front_end_parameters()``, e.g. learnable filters) as a group of their own without it."""
    listed = getattr(model, "front_end_parameters", None)
    front: list[nn.Parameter] = listed() if callable(listed) else []
    rest = [parameter for parameter in model.parameters() if all(parameter is not other for other in front)]
    groups: list[dict[str, Any]] = [{"params": rest, "weight_decay": weight_decay}]
    if front:
        groups.append({"params": front, "weight_decay": 0.0})
    return groups


def train_classifier(
    config: ClassifierConfig, run_dir: str | os.PathLike[str], *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train and evaluate a classifier into ``run_dir``; returns the result (also written to ``result.json``).

    ``resume=True`` continues from the latest checkpoint (or returns the stored result of a finished run);
    a run folder that holds another config, or a run when ``resume`` is off, is refused.
    """
    return train_pack([config], [run_dir], resume=resume, progress=progress)[0]

