"""Checkpoints: round trip, RNG states, pruning, damaged files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from chimeramix.checkpoint import (
    KEEP,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from chimeramix.errors import ChimeraMixError
from chimeramix.rundir import CHECKPOINTS


def make_objects() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.MultiStepLR]:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[1, 2], gamma=0.2)
    return model, optimizer, scheduler


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    loss = model(torch.randn(5, 3)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def save(run_dir: Path, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
         scheduler: torch.optim.lr_scheduler.MultiStepLR, generator: torch.Generator) -> Path:
    return save_checkpoint(run_dir, modules={"model": model}, optimizers={"opt": optimizer},
                           schedulers={"sched": scheduler}, state={"epoch": epoch, "rows": [1.5]},
                           rngs={"masks": generator})


def test_round_trip_continues_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, optimizer, scheduler = make_objects()
    generator = torch.Generator().manual_seed(3)
    train_step(model, optimizer)
    scheduler.step()
    save(tmp_path, 1, model, optimizer, scheduler, generator)
    expected_draws = (torch.rand(2, generator=generator), torch.rand(2), np.random.rand(), random.random())
    train_step(model, optimizer)
    expected = [p.detach().clone() for p in model.parameters()]

    fresh, fresh_optimizer, fresh_scheduler = make_objects()
    fresh_generator = torch.Generator().manual_seed(99)
    state = load_checkpoint(tmp_path, modules={"model": fresh}, optimizers={"opt": fresh_optimizer},
                            schedulers={"sched": fresh_scheduler}, rngs={"masks": fresh_generator})
    assert state == {"epoch": 1, "rows": [1.5]}
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()
    draws = (torch.rand(2, generator=fresh_generator), torch.rand(2), np.random.rand(), random.random())
    assert torch.equal(draws[0], expected_draws[0]) and torch.equal(draws[1], expected_draws[1])
    assert draws[2:] == expected_draws[2:]
    train_step(fresh, fresh_optimizer)
    for got, want in zip(fresh.parameters(), expected):
        assert torch.equal(got, want)


def test_no_checkpoint_gives_none(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path, modules={"model": nn.Linear(2, 2)}, optimizers={}, schedulers={}) is None


def test_keeps_the_newest_and_points_at_the_last(tmp_path: Path) -> None:
    model, optimizer, scheduler = make_objects()
    generator = torch.Generator()
    for epoch in range(1, 5):
        save(tmp_path, epoch, model, optimizer, scheduler, generator)
    folders = sorted(p.name for p in (tmp_path / CHECKPOINTS).iterdir() if p.is_dir())
    assert folders == [f"epoch-{e:04d}" for e in range(5 - KEEP, 5)]
    assert latest_checkpoint(tmp_path) == tmp_path / CHECKPOINTS / "epoch-0004"


@pytest.mark.parametrize("name", ["model.safetensors", "training.pt", "state.json"])
def test_damaged_file_names_itself(tmp_path: Path, name: str) -> None:
    model, optimizer, scheduler = make_objects()
    folder = save(tmp_path, 1, model, optimizer, scheduler, torch.Generator())
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ChimeraMixError, match=name.replace(".", r"\.")):
        load_checkpoint(tmp_path, modules={"model": model}, optimizers={"opt": optimizer},
                        schedulers={"sched": scheduler})


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    model, optimizer, scheduler = make_objects()
    save(tmp_path, 1, model, optimizer, scheduler, torch.Generator())
    with pytest.raises(ChimeraMixError, match="another model"):
        load_checkpoint(tmp_path, modules={"model": nn.Linear(3, 3)}, optimizers={}, schedulers={})


def test_rng_state_capture_restore() -> None:
    generator = torch.Generator().manual_seed(5)
    state = capture_rng_state({"g": generator})
    first = (torch.rand(3), torch.rand(3, generator=generator), np.random.rand(), random.random())
    restore_rng_state(state, {"g": generator})
    second = (torch.rand(3), torch.rand(3, generator=generator), np.random.rand(), random.random())
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert first[2:] == second[2:]
