"""Training a classifier with one augmentation method (paper sections 3.1 "Classification", 4; supp. C.2).

The recipe: SGD with Nesterov momentum 0.9 and weight decay on every parameter, the learning rate annealed
per step to 0 on a cosine, for ``epochs`` epochs of the k x C training images repeated ``max(R // k, 1)``
times. The training subset lives on the training device as one uint8 tensor; an epoch's order is a pure
function of (seed, epoch) and every batch is augmented by :class:`chimeramix.methods.Augmentation` from one
seeded ``torch.Generator`` whose state is checkpointed, so ``resume`` continues a run exactly. bf16 autocast
on CUDA. After the last epoch the model is evaluated once on the full test set (``eval_every`` adds test
accuracies to the log for curves only; no epoch is ever chosen on the test set).

``fast`` launches the same steps through :mod:`chimeramix.train.fast`: the step (fused SGD, channels-last
model) and the frozen generator's compositions as CUDA graphs, batches prepared on a side stream. On a CPU
it runs exactly the reference steps.

The run directory holds ``config.json``, ``checkpoints/``, ``log.csv`` (per epoch: loss, lr, time), the
segment cache of segmentation methods, and last ``result.json``: a run is finished iff ``result.json`` exists.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from chimeramix.config import (
    ClassifierConfig,
    DataConfig,
    GeneratorConfig,
    apply_preset,
    resolve_classifier,
    resolve_generator,
    steps_per_epoch,
    to_dict,
)
from chimeramix.data import ImageSet, TrainingSet, epoch_order, load_split, load_training_set, repetition
from chimeramix.errors import ChimeraMixError
from chimeramix.evaluation import evaluate
from chimeramix.fileio import write_json
from chimeramix.losses import CosineLoss
from chimeramix.masks import GridMasks, SegmentationMasks, segment_cache
from chimeramix.methods import Augmentation, Method, PairMixing, channel_stats, parse_method
from chimeramix.models.classifiers import build_classifier, count_parameters
from chimeramix.models.generator import MixingGenerator
from chimeramix.runtime import (
    autocast_dtype,
    environment,
    make_generator,
    progress_bar,
    seed_everything,
    select_device,
)
from chimeramix.train.checkpoint import CONFIG_FILE, save_checkpoint, write_run_config
from chimeramix.train.fast import GraphedFunction, GraphedPairMixing, SideStream, classifier_update, sgd_options
from chimeramix.train.generator import feature_side, load_generator_config, segmentation_params, train_generator
from chimeramix.train.rundir import RESULT_FILE, check_losses, check_run_dir, resume_progress, write_log

LOG_COLUMNS = ("epoch", "step", "lr", "loss", "test_accuracy", "seconds")
AUGMENTATION_STREAM = 1
"""Seed stream of the augmentation generator (weights are initialised from the plain seed)."""
SAME_TRAIN_SET = {"cifair10": "cifar10", "cifair100": "cifar100"}
"""ciFAIR shares CIFAR's train set, so a generator trained on one serves the other."""


def resolve(config: ClassifierConfig) -> ClassifierConfig:
    """The protocol's values for every ``None`` field, and the method's canonical name."""
    return replace(resolve_classifier(config), method=parse_method(config.method).name)


# ------------------------------------------------------------------------------------------------------ data


def load_test_set(data: DataConfig) -> ImageSet:
    return load_split(data.dataset, "test", data.data_root, folder_image_size=data.folder_image_size)


# ------------------------------------------------------------------------------------------------- generator


def check_generator(config: ClassifierConfig, method: Method) -> GeneratorConfig:
    """The config of the finished generator run that ``config.generator`` names, checked against the
    classifier's dataset, image size, k, seed and mask kind (a mismatch is an error unless allowed)."""
    if config.generator is None:
        raise ChimeraMixError(
            f"method {method.name!r} needs a trained generator; pass --generator RUN_DIR (train one with "
            "`chimeramix generator train`), or let `chimeramix run` train it"
        )
    run_dir = Path(config.generator)
    if not (run_dir / RESULT_FILE).is_file():
        raise ChimeraMixError(
            f"{run_dir} is not a finished generator run (no {RESULT_FILE}); finish it with "
            "`chimeramix generator train ... --resume`, or pass another --generator"
        )
    trained = load_generator_config(run_dir)
    wanted = resolve_generator(GeneratorConfig(data=config.data, mask=method.mask_kind or "grid"))
    problems = []
    if _train_set(trained.data) != _train_set(config.data):
        problems.append(f"dataset {trained.data.dataset} (not {config.data.dataset})")
    if trained.working_size != wanted.working_size:
        problems.append(f"working size {trained.working_size} px (not {wanted.working_size})")
    if trained.data.k != config.data.k:
        problems.append(f"k = {trained.data.k} (not {config.data.k})")
    if trained.data.seed != config.data.seed:
        problems.append(f"split seed {trained.data.seed} (not {config.data.seed})")
    if trained.mask != wanted.mask:
        problems.append(f"{trained.mask} masks (not {wanted.mask})")
    if problems and not config.allow_mismatch:
        raise ChimeraMixError(
            f"generator {run_dir} was trained for {', '.join(problems)}; train a matching generator, or pass "
            "--allow-mismatch to use it anyway"
        )
    return trained


def _train_set(data: DataConfig) -> tuple[str, int]:
    name = SAME_TRAIN_SET.get(data.dataset, data.dataset)
    return name, data.folder_image_size if name.startswith("folder:") else 0


def build_pair_mixing(
    config: ClassifierConfig,
    method: Method,
    data: TrainingSet,
    run_dir: Path,
    device: torch.device,
    generator_config: GeneratorConfig | None,
) -> PairMixing | None:
    """The pair mixing of the method: pixel space with the protocol's default masks (gridmix, segmix), or
    the frozen generator of ``config.generator`` (whose checked config is ``generator_config``) with the masks
    it was trained with (chimeramix-*); ``None`` for other methods."""
    if method.mask_kind is None:
        return None
    model = None
    if generator_config is not None:
        masks_from = generator_config
        model = MixingGenerator.load(Path(str(config.generator)), device)
        mask_size = feature_side(masks_from)
    else:
        masks_from = resolve_generator(GeneratorConfig(data=config.data, mask=method.mask_kind))
        mask_size = data.images.shape[-1]
    segments = None
    if method.mask_kind == "grid":
        masks: GridMasks | SegmentationMasks = GridMasks(masks_from.grid_cells, masks_from.grid_p,
                                                         masks_from.grid_shift)
    else:
        masks = SegmentationMasks(masks_from.region_choice)
        cached = segment_cache(run_dir, data.pixels, segmentation_params(masks_from))
        segments = torch.from_numpy(cached[:, 0]).to(device)  # unflipped: mixing precedes the flip
    return PairMixing(masks, mask_size=mask_size, segments=segments, model=model,
                      working_size=masks_from.working_size, autocast_dtype=autocast_dtype(device, config.amp))


# -------------------------------------------------------------------------------------------------- training


def build_criterion(method: Method, config: ClassifierConfig, num_classes: int) -> nn.Module:
    """Cross-entropy, or the cosine loss (with its cross-entropy term when ``cosine_with_ce``)."""
    if method.cosine_loss:
        return CosineLoss(num_classes, with_ce=config.cosine_with_ce)
    return nn.CrossEntropyLoss()


def cosine_lr(step: int, total_steps: int, base_lr: float) -> float:
    """The protocol's learning rate before ``step`` (0-based): cosine annealing from ``base_lr`` to 0.

    >>> cosine_lr(0, 100, 0.1), cosine_lr(50, 100, 0.1), cosine_lr(100, 100, 0.1)
    (0.1, 0.05, 0.0)
    """
    return base_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


@dataclass
class ClassifierRun:
    """One classifier run while it trains: its config, data, model, optimiser, augmentation and progress.

    :func:`open_run` builds it (resuming from the latest checkpoint when asked); a training loop calls
    :meth:`epoch_batches` and ``augmentation``, steps ``optimizer`` and ``scheduler`` itself, and ends
    every epoch with :meth:`end_epoch` (log row, optional curve point, checkpoint) and the run with
    :meth:`finish` (test metrics, ``result.json``). :func:`train_classifier` is the reference loop;
    :mod:`chimeramix.train.packed` trains several runs as one batched model with the same pieces.
    """

    config: ClassifierConfig
    method: Method
    run_dir: Path
    device: torch.device
    test: ImageSet
    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.SGD
    scheduler: torch.optim.lr_scheduler.LambdaLR
    rng: torch.Generator
    """The augmentation's random numbers (checkpointed)."""
    augmentation: Augmentation
    mean: torch.Tensor
    std: torch.Tensor
    count: int
    """Images in the training subset."""
    repeats: int
    per_epoch: int
    total_steps: int
    log: list[dict[str, Any]]
    start_epoch: int
    step: int
    seconds: float
    """Training seconds so far (over every attempt)."""
    pack_size: int = 1
    """Runs trained together with this one as one batched model, itself included (``train.packed``)."""

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return autocast_dtype(self.device, self.config.amp)

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        """The training-subset positions of every step of ``epoch`` (a pure function of seed and epoch)."""
        order = epoch_order(self.config.data.seed, epoch, self.count, self.repeats)
        return list(torch.from_numpy(order).to(self.device).split(int(self.config.batch_size or 1)))

    def end_epoch(self, epoch: int, mean_loss: float, seconds: float) -> None:
        """Close ``epoch`` (0-based) that took ``seconds``: check its mean loss, log it (with a test accuracy
        every ``eval_every`` epochs, for curves only) and write a checkpoint when one is due."""
        check_losses({"training": mean_loss}, f"in epoch {epoch + 1}", self.run_dir)
        row: dict[str, Any] = {"epoch": epoch + 1, "step": self.step, "lr": self.scheduler.get_last_lr()[0],
                               "loss": mean_loss, "test_accuracy": None}
        last_epoch = epoch + 1 == self.config.epochs
        started = time.perf_counter()
        if self.config.eval_every and (epoch + 1) % self.config.eval_every == 0 and not last_epoch:
            row["test_accuracy"] = self.test_metrics()["accuracy"]
        self.seconds += seconds + time.perf_counter() - started
        row["seconds"] = round(self.seconds, 3)
        self.log.append(row)
        write_log(self.run_dir, self.log, LOG_COLUMNS)
        if (epoch + 1) % self.config.checkpoint_every == 0 or last_epoch:
            save_checkpoint(self.run_dir, **self.checkpointed(),
                            state={"epoch": epoch + 1, "step": self.step, "seconds": self.seconds, "log": self.log})

    def test_metrics(self) -> dict[str, Any]:
        """Metrics of the model on the whole test set."""
        return evaluate(self.model, self.test, mean=self.mean, std=self.std, device=self.device,
                        autocast_dtype=self.amp_dtype)

    def finish(self) -> dict[str, Any]:
        """Evaluate once on the test set and write ``result.json``; returns the result."""
        started = time.perf_counter()
        metrics = self.test_metrics()
        self.seconds += time.perf_counter() - started
        result = {
            "metrics": metrics,
            "method": self.method.name,
            "epochs": self.config.epochs,
            "steps": self.step,
            "parameters": count_parameters(self.model),
            "normalization": {"mean": self.mean.tolist(), "std": self.std.tolist()},
            "log": self.log,
            "wall_seconds": round(self.seconds, 3),
            "pack_size": self.pack_size,
            "config": to_dict(self.config),
            "environment": environment(self.device),
        }
        write_json(self.run_dir / RESULT_FILE, result)
        return result

    def checkpointed(self) -> dict[str, Any]:
        """What a checkpoint of the run holds, as the keyword arguments of ``save_checkpoint``."""
        return {"modules": {"model": self.model, "criterion": self.criterion}, "optimizers": {"sgd": self.optimizer},
                "schedulers": {"lr": self.scheduler}, "generators": {"augment": self.rng}}


def open_run(
    config: ClassifierConfig, run_dir: str | os.PathLike[str], *, resume: bool = False
) -> ClassifierRun | dict[str, Any]:
    """The run of ``config`` in ``run_dir``, ready to train (from its latest checkpoint when ``resume``); the
    stored result instead when ``resume`` finds the run finished. A run directory that holds another config,
    or a run when ``resume`` is off, is refused."""
    config = resolve(config)
    method = parse_method(config.method)
    run_dir = Path(run_dir)
    finished = check_run_dir(config, run_dir, resume, "classifier")
    if finished is not None:
        return finished
    if config.batch_size is None or config.repetition is None or config.lr is None:
        raise ValueError("open_run resolves the config first")
    generator_config = check_generator(config, method) if method.needs_generator else None
    device = select_device(config.device)
    data = load_training_set(config.data, device)
    test = load_test_set(config.data)
    if not (run_dir / CONFIG_FILE).is_file():
        write_run_config(run_dir, config, device)

    seed_everything(config.data.seed)
    model = build_classifier(str(config.architecture), data.num_classes, dropout=config.dropout).to(device)
    if config.fast and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    criterion = build_criterion(method, config, data.num_classes).to(device)
    optimizer = torch.optim.SGD([*model.parameters(), *criterion.parameters()], lr=config.lr,
                                momentum=config.momentum, nesterov=config.nesterov,
                                weight_decay=float(config.weight_decay or 0.0),
                                **(sgd_options(device) if config.fast else {}))
    repeats = repetition(config.data.k, config.repetition)
    count = len(data.images)
    per_epoch = steps_per_epoch(count, repeats, config.batch_size)
    total_steps = per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_lr(step, total_steps, 1.0))
    rng = make_generator(int(np.random.SeedSequence([config.data.seed, AUGMENTATION_STREAM])
                             .generate_state(1)[0]), device)
    # before the checkpoint restores the RNGs: loading the generator draws from them
    mean, std = channel_stats(data.images)
    pair_mixing = build_pair_mixing(config, method, data, run_dir, device, generator_config)
    if config.fast and pair_mixing is not None:
        pair_mixing = GraphedPairMixing(pair_mixing)
    augmentation = Augmentation(
        method, data.images, data.labels, num_classes=data.num_classes, mean=mean, std=std,
        crop_padding=int(config.crop_padding or 0), cutout_size=int(config.cutout_size or 0),
        pair_mixing=pair_mixing, pair_mixing_p=config.chimeramix_p,
    )
    run = ClassifierRun(config, method, run_dir, device, test, model, criterion, optimizer, scheduler, rng,
                        augmentation, mean, std, count, repeats, per_epoch, total_steps, [], 0, 0, 0.0)
    if resume:
        resume_progress(run, device)
    return run


def train_classifier(
    config: ClassifierConfig, run_dir: str | os.PathLike[str], *, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train and evaluate a classifier into ``run_dir``; returns the result (also written to ``result.json``).

    ``resume=True`` continues from the latest checkpoint (or returns the stored result of a finished run);
    a run directory that holds another config, or a run when ``resume`` is off, is refused.
    """
    run = open_run(config, run_dir, resume=resume)
    if not isinstance(run, ClassifierRun):
        return run
    fast, device = run.config.fast, run.device
    update = classifier_update(run.model, run.criterion, run.optimizer, run.amp_dtype,
                               channels_last=fast and device.type == "cuda")
    train_step = GraphedFunction(update, optimizers=[run.optimizer]) if fast else update
    batches = SideStream(device, enabled=fast)
    bar = progress_bar(f"classifier {run.method.name}", run.total_steps, run.step, enabled=progress)
    for epoch in range(run.start_epoch, run.config.epochs):
        started = time.perf_counter()
        run.model.train()
        total_loss = torch.zeros((), device=device)
        for positions in run.epoch_batches(epoch):
            inputs, targets = batches.run(partial(run.augmentation, positions, run.rng))
            loss = train_step(inputs, targets)
            run.scheduler.step()
            run.step += 1
            total_loss += loss
            bar.update(1)
            if run.step % 25 == 0 or run.step == run.total_steps:
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{run.scheduler.get_last_lr()[0]:.3g}",
                                refresh=False)
        run.end_epoch(epoch, float(total_loss) / run.per_epoch, time.perf_counter() - started)
    bar.close()
    return run.finish()


# ------------------------------------------------------------------------------------- generator + classifier


def run_name(kind: str, data: DataConfig, variant: str, preset: str) -> str:
    """A run folder's name, e.g. ``classifier-cifar10-k10-seed0-baseline-quick``."""
    dataset = "".join(c if c.isalnum() else "_" for c in data.dataset).strip("_")
    return f"{kind}-{dataset}-k{data.k}-seed{data.seed}-{variant}-{preset}"


def run_experiment(
    config: ClassifierConfig, out_dir: str | os.PathLike[str], *, progress: bool = True
) -> dict[str, Any]:
    """Train the generator that ``config.method`` needs (or reuse/resume the matching one under ``out_dir``),
    then the classifier; both with ``config.preset``. Returns the classifier's result, whose ``run_dir`` key
    names its folder."""
    method = parse_method(config.method)
    out_dir = Path(out_dir)
    if method.needs_generator:
        mask = method.mask_kind or "grid"
        generator_config = GeneratorConfig(data=config.data, mask=mask, device=config.device, amp=config.amp)
        generator_config = apply_preset(generator_config, config.preset)
        generator_dir = out_dir / run_name("generator", config.data, mask, config.preset)
        train_generator(generator_config, generator_dir, resume=True, progress=progress)
        config = replace(config, generator=str(generator_dir))
    run_dir = out_dir / run_name("classifier", config.data, method.name, config.preset)
    result = train_classifier(config, run_dir, resume=True, progress=progress)
    return {**result, "run_dir": str(run_dir)}


def classifier_config(data: DataConfig, method: str, preset: str, **overrides: Any) -> ClassifierConfig:
    """A classifier config for ``method`` with ``preset`` applied, then ``overrides`` (``None`` values are
    ignored)."""
    config = apply_preset(ClassifierConfig(data=data, method=method), preset)
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})
