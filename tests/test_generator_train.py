"""Generator training: run directory contents, exact resume, refusals, damaged checkpoints, NaN, real data."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

import chimeramix.methods.chimeramix.trainer as trainer
from chimeramix.checkpoint import latest_checkpoint
from chimeramix.config import DataConfig, MaskConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
from chimeramix.methods.chimeramix.frozen_generator import generator_config, load_generator
from chimeramix.methods.chimeramix.generator import MixingGenerator
from chimeramix.methods.chimeramix.objective import AdversarialObjective
from chimeramix.methods.chimeramix.pairs import load_pair_data
from chimeramix.methods.chimeramix.pictures import composition_stats, compositions_picture, picture_pairs
from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.resolution import apply_preset
from chimeramix.rundir import RESULT_FILE, SEGMENTS_FILE, RunFolder
from chimeramix.runtime import choose_precision
from chimeramix.train import run as run_module
from chimeramix.viz import LABEL_HEIGHT
from conftest import CheckpointStop

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(root: Path, **changes: Any) -> GeneratorConfig:
    """A run of seconds on the fabricated 8 px data: 20 images, 3 steps per epoch, 3 epochs."""
    config = GeneratorConfig(
        data=DataConfig(dataset="cifar10", k=2, seed=0, data_root=str(root)),
        blocks=2, mix_after=1, base_channels=8, working_size=32, batch_size=8, repetition=2,
        epochs=3, checkpoint_every=1, device="cpu",
    )
    return replace(config, **changes)


def test_run_directory_holds_everything(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data_root)
    result = train_generator(config, tmp_path, progress=False)
    assert result["steps"] == 9 and result["epochs"] == 3
    for name in ("config.json", "log.csv", RESULT_FILE, "generator.safetensors", "discriminator.safetensors",
                 "compositions.png", "masks.png", "reconstructions.png"):
        assert (tmp_path / name).is_file(), name
    with open(tmp_path / "log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    precision = choose_precision(torch.device("cpu"), config.amp)  # bf16 on CPUs with native bf16, else fp32
    assert generator_config(tmp_path) == replace(resolve_generator(config), precision=precision)
    generator = load_generator(tmp_path)
    assert not generator.training and generator.blocks == 2
    assert set(result["compositions"]) == {"spread", "novel"}  # how varied its compositions are
    assert result["compositions"]["spread"] > 0 and 0 <= result["compositions"]["novel"] <= 1
    again = train_generator(config, tmp_path, resume=True)  # a finished run gives its result, marked reused
    assert again.pop("reused") is True and again == result


def test_resume_gives_the_same_weights(
    tiny_data_root: Path, tmp_path: Path, checkpoint_stop: CheckpointStop
) -> None:
    config = tiny_config(tiny_data_root, masks=MaskConfig(kind="seg"))
    train_generator(config, tmp_path / "whole", progress=False)
    assert (tmp_path / "whole" / SEGMENTS_FILE).is_file()

    checkpoint_stop.after(run_module, error=KeyboardInterrupt)  # epoch 1's checkpoint, then a Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        train_generator(config, tmp_path / "resumed", progress=False)
    checkpoint_stop.undo()
    result = train_generator(config, tmp_path / "resumed", resume=True, progress=False)
    assert result["steps"] == 9
    whole = load_generator(tmp_path / "whole").state_dict()
    resumed = load_generator(tmp_path / "resumed").state_dict()
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)


def test_weights_and_pair_draws_use_independent_streams(tiny_data_root: Path, tmp_path: Path) -> None:
    """Weight initialisation uses torch's global RNG seeded with the split seed; the pairs, flips, masks and
    coins a separate stream of it (``SeedSequence([seed, 1])``), as the classifier's augmentation does."""
    run = trainer.open_generator_run(tiny_config(tiny_data_root), tmp_path)
    assert isinstance(run, trainer.GeneratorRun)
    plain = torch.Generator().manual_seed(0)
    assert not torch.equal(run.rng.get_state(), plain.get_state())
    assert torch.rand(8, generator=run.rng).tolist() != torch.rand(8, generator=plain).tolist()


def test_another_config_or_a_second_start_is_refused(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data_root, epochs=1)
    train_generator(config, tmp_path, progress=False)
    with pytest.raises(ChimeraMixError, match=r"different config.*epochs"):
        train_generator(replace(config, epochs=2), tmp_path, resume=True, progress=False)
    with pytest.raises(ChimeraMixError, match="--resume"):
        train_generator(config, tmp_path, progress=False)


def test_damaged_checkpoint_is_named(tiny_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny_config(tiny_data_root, epochs=2)

    def stop_after_pictures(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "write_pictures", stop_after_pictures)
    with pytest.raises(KeyboardInterrupt):
        train_generator(config, tmp_path, progress=False)
    monkeypatch.undo()
    folder = latest_checkpoint(tmp_path)
    assert folder is not None
    (folder / "generator.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ChimeraMixError, match=r"generator\.safetensors.*damaged"):
        train_generator(config, tmp_path, resume=True, progress=False)


def test_nan_loss_stops_with_the_step(tiny_data_root: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data_root, w_rec=float("nan"))
    with pytest.raises(ChimeraMixError, match=r"loss_g loss became nan at step 1 .*none"):
        train_generator(config, tmp_path, progress=False)


@pytest.mark.slow
def test_reconstruction_falls_on_real_cifar10(shared_data: Path, tmp_path: Path) -> None:
    """A short CPU run on real CIFAR-10 images: the quick preset cut to 3 epochs of 7 steps."""
    config = apply_preset(GeneratorConfig(data=DataConfig(k=10, seed=0, data_root=str(shared_data))), "quick")
    config = replace(config, epochs=3, repetition=10, device="cpu")
    result = train_generator(config, tmp_path, progress=False)
    assert result["steps"] == 21
    assert result["final"]["rec"] < 0.8 * result["first_epoch"]["rec"]


def test_training_step_under_bf16_autocast() -> None:
    """The mixed-precision path (bf16 autocast, used on CUDA) checked with CPU autocast."""
    config = resolve_generator(replace(tiny_config(Path(".")), device="cpu"))
    objective = AdversarialObjective(MixingGenerator.from_config(config), PatchDiscriminator(), config,
                                     lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    optimizers = {name: torch.optim.Adam(getattr(objective, name).parameters())
                  for name in ("generator", "discriminator")}
    images = torch.rand(2 * 2, 3, 32, 32) * 2 - 1  # (x1, x2) of 2 pairs
    mask = (torch.rand(2, 1, 8, 8) < 0.5).float()
    weights = torch.cat([mask, 1 - mask], 1)
    losses = objective.step(objective, optimizers, images, weights, weights, torch.tensor(0))
    assert losses.shape == (5,) and losses.dtype == torch.float32 and torch.isfinite(losses).all()


def test_tensorboard_log_holds_the_losses(tiny_data_root: Path, tmp_path: Path) -> None:
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="the tensorboard package is not installed (requirements/ci.txt installs it)",
    )
    train_generator(tiny_config(tiny_data_root, tensorboard=True), tmp_path, progress=False)
    events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert tags, "no scalar was logged"
    assert all(len(events.Scalars(tag)) >= 1 for tag in tags)


def test_pictures_label_their_columns_and_pair_different_images(tiny_data_root: Path, tmp_path: Path) -> None:
    config = resolve_generator(tiny_config(tiny_data_root))
    data = load_pair_data(config, RunFolder(tmp_path), torch.device("cpu"))
    positions, partners = picture_pairs(data, 20, seed=0)
    assert bool((positions != partners).all())  # every class has two images or more: never an image with itself
    assert bool((data.partners.labels[positions] == data.partners.labels[partners]).all())
    generator = MixingGenerator(blocks=2, mix_after=1, base_channels=8).eval()
    picture = compositions_picture(generator, config, data, 3, seed=0)
    side = 2 * 32 + 2  # the tiles at scale 2, and the padding
    assert picture.shape == (LABEL_HEIGHT + 3 * side + 2, 8 * side + 2, 3)  # x1, x2, then mask and mix, 3 times
    strip = picture[:LABEL_HEIGHT]
    for column in range(8):  # a label above every column
        assert (strip[:, 2 + column * side : (column + 1) * side] < 128).any(), column
    assert tuple(strip.reshape(-1, 3).min(axis=0)) != (255, 255, 255)
    assert (picture[LABEL_HEIGHT:].std() > 0)


def test_composition_stats_tell_a_collapsed_generator_from_a_mixing_one() -> None:
    rng = torch.Generator().manual_seed(0)
    inputs = torch.rand(2, 16, 3, 8, 8, generator=rng) * 2 - 1  # x1 and x2 of 16 groups
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1
    made_of_inputs = (inputs[0] * left + inputs[1] * (1 - left))[None]  # half of x1, half of x2
    collapsed = torch.full((1, 16, 3, 8, 8), 0.9)  # one blob whatever the pair
    mixing, blob = composition_stats(inputs, made_of_inputs), composition_stats(inputs, collapsed)
    assert mixing["novel"] == 0.0 and mixing["spread"] > 0.5
    assert blob["spread"] == 0.0 and blob["novel"] > 0.2
