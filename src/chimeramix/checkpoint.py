"""Checkpoints that a crash cannot corrupt, and the safetensors weight files.

A checkpoint is a folder ``<run_dir>/checkpoints/epoch-NNNN/`` holding

- ``<module>.safetensors`` for every module (weights only, safe to read),
- ``training.pt``: optimizer, scheduler and RNG states (plain tensors and numbers, readable with
  ``torch.load(weights_only=True)``),
- ``state.json``: the caller's own state (epoch, step, log rows, ...), written last.

The folder is filled under a temporary name and renamed into place, then ``checkpoints/latest`` (a text
file naming it) is replaced atomically, and all but the newest :data:`KEEP` checkpoints are removed. So
``latest`` always names a complete checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write, read_json, write_json
from chimeramix.rundir import RunFolder

LATEST = "latest"
KEEP = 2
"""Number of checkpoints kept on disk."""
TRAINING_FILE = "training.pt"
STATE_FILE = "state.json"


# ------------------------------------------------------------------------------------------------ RNG state


def capture_rng_state(rngs: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's (CPU and every CUDA device) global RNGs and of
    ``rngs``, as tensors and numbers only (so ``torch.load(weights_only=True)`` reads them back)."""
    name, keys, position, has_gauss, cached_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gauss": float(cached_gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {key: rng.get_state() for key, rng in (rngs or {}).items()},
    }
    return state


def restore_rng_state(
    state: Mapping[str, Any], rngs: Mapping[str, torch.Generator] | None = None
) -> None:
    """Restore what :func:`capture_rng_state` captured (CUDA states only where CUDA is available)."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for key, rng in (rngs or {}).items():
        if key not in state["generators"]:
            raise ChimeraMixError(f"the checkpoint holds no state for the random generator {key!r}; "
                                  "start the run afresh in a new run directory")
        rng.set_state(state["generators"][key])


# ----------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    schedulers: Mapping[str, Any],
    state: Mapping[str, Any],
    rngs: Mapping[str, torch.Generator] | None = None,
) -> Path:
    """Write a checkpoint named after ``state["epoch"]`` and make it the latest; returns its folder.

    ``state`` must be JSON-ready and hold an integer ``epoch``. The global RNG states and those of
    ``rngs`` are saved too, so that :func:`load_checkpoint` continues a run exactly.
    """
    root = RunFolder(run_dir).checkpoints
    root.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{int(state['epoch']):04d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        for key, module in modules.items():
            save_weights(module, staging / f"{key}.safetensors")
        training = {
            "optimizers": {key: optimizer.state_dict() for key, optimizer in optimizers.items()},
            "schedulers": {key: scheduler.state_dict() for key, scheduler in schedulers.items()},
            "rng": capture_rng_state(rngs),
        }
        atomic_write(staging / TRAINING_FILE, lambda handle: torch.save(training, handle))
        write_json(staging / STATE_FILE, dict(state))
        target = root / name
        if target.exists():  # left over from an interrupted run; never the one `latest` names
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    _write_bytes(root / LATEST, f"{name}\n".encode())
    for old in sorted(path for path in root.glob("epoch-*") if path.is_dir())[:-KEEP]:
        shutil.rmtree(old)
    return target


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The folder that ``checkpoints/latest`` names, or ``None`` when the run has no checkpoint."""
    pointer = RunFolder(run_dir).checkpoints / LATEST
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    if not folder.is_dir():
        raise ChimeraMixError(f"{pointer} names a missing checkpoint {folder.name!r}; delete {pointer} to "
                              "start over, or restore the checkpoint folder")
    return folder


def checkpoint_state(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The caller's state (epoch, step, ...) of a run's latest checkpoint, or ``None`` without a readable one."""
    try:
        folder = latest_checkpoint(run_dir)
        state: dict[str, Any] | None = read_json(folder / STATE_FILE) if folder is not None else None
    except (ChimeraMixError, OSError, ValueError):
        return None
    return state


def load_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    schedulers: Mapping[str, Any],
    map_location: str | torch.device = "cpu",
    rngs: Mapping[str, torch.Generator] | None = None,
) -> dict[str, Any] | None:
    """Load the latest checkpoint into the given objects and restore the RNG states; returns the saved
    ``state`` dict, or ``None`` when the run has no checkpoint. A damaged file raises
    :class:`ChimeraMixError` naming it."""
    folder = latest_checkpoint(run_dir)
    if folder is None:
        return None
    path = folder
    try:
        for key, module in modules.items():
            path = folder / f"{key}.safetensors"
            module.load_state_dict(safetensors.torch.load_file(path, device=str(map_location)))
        path = folder / TRAINING_FILE
        training = torch.load(path, map_location=map_location, weights_only=True)
        for key, optimizer in optimizers.items():
            optimizer.load_state_dict(training["optimizers"][key])
        for key, scheduler in schedulers.items():
            scheduler.load_state_dict(training["schedulers"][key])
        rng = _rng_to_cpu(training["rng"])
        path = folder / STATE_FILE
        state: dict[str, Any] = read_json(path)
    except Exception as error:  # safetensors, torch.load and json raise many types for damaged files
        latest = folder.parent / LATEST
        raise ChimeraMixError(
            f"cannot read {path} ({_reason(error)}); the checkpoint is damaged or belongs to another model: "
            f"delete {folder} and write an older checkpoint's name into {latest}, or delete "
            f"{folder.parent} to start over"
        ) from error
    restore_rng_state(rng, rngs)
    return state


def save_weights(module: nn.Module, path: Path) -> None:
    """Write ``module``'s state dict to a ``.safetensors`` file, atomically."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in module.state_dict().items()}
    _write_bytes(path, safetensors.torch.save(tensors))


def load_weights(module: nn.Module, path: Path, *, map_location: str | torch.device = "cpu") -> None:
    """Load a ``.safetensors`` file into ``module`` (all keys must match)."""
    try:
        module.load_state_dict(safetensors.torch.load_file(path, device=str(map_location)))
    except Exception as error:  # safetensors and load_state_dict raise several types
        raise ChimeraMixError(f"cannot read {path} ({_reason(error)}); the file is damaged or belongs to "
                              "another model: restore it from a copy, or train its run again in a new folder"
                              ) from error


def _rng_to_cpu(state: dict[str, Any]) -> dict[str, Any]:
    """RNG states must be CPU byte tensors whatever ``map_location`` moved them to."""
    cpu = dict(state)
    cpu["torch"] = state["torch"].cpu()
    cpu["cuda"] = [value.cpu() for value in state["cuda"]]
    cpu["generators"] = {key: value.cpu() for key, value in state["generators"].items()}
    cpu["numpy"] = {**state["numpy"], "keys": state["numpy"]["keys"].cpu()}
    return cpu


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def _reason(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
