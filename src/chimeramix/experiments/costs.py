"""What runs cost on this machine, measured: seconds per step and the fixed cost of a run (start-up, data
loading, the final evaluation, pictures), cached after every finished run so that estimates use them.

The cache is one JSON file in the user's cache folder (``$XDG_CACHE_HOME/chimeramix/run-costs.json``), keyed
by host and device kind, then by a job's cost key (``classifier/wrn-16-2``, ``generator/64px-16ch-b16``); each
entry is the latest measurement. Training packs are not recorded (a pack's step is not one run's step).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from chimeramix.data.datasets import user_cache_dir
from chimeramix.fileio import write_json

COSTS_FILE = "run-costs.json"


@dataclass(frozen=True)
class RunCost:
    """A run's measured cost: ``overhead_s + steps * seconds_per_step``."""

    seconds_per_step: float
    overhead_s: float


def costs_path() -> Path:
    return user_cache_dir() / "chimeramix" / COSTS_FILE


def machine(device_kind: str) -> str:
    """The cache's key of this machine and device kind (``cpu`` or ``cuda``)."""
    return f"{socket.gethostname()}/{device_kind}"


def load_costs(device_kind: str, path: str | os.PathLike[str] | None = None) -> dict[str, RunCost]:
    """The measured costs on this machine's ``device_kind``, by cost key (empty when none were measured)."""
    file = Path(path) if path is not None else costs_path()
    try:
        entries = json.loads(file.read_text(encoding="utf-8")).get(machine(device_kind), {})
        return {key: RunCost(**value) for key, value in entries.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # no cache yet, or a damaged one: estimates fall back to the defaults


def record_cost(cost_key: str, result: dict[str, Any], elapsed_s: float,
                path: str | os.PathLike[str] | None = None) -> RunCost | None:
    """Record the cost of a finished run from its ``result`` and the ``elapsed_s`` seconds the job took in
    all; returns it (``None`` for a pack, a reused result or a run without steps). Never fails a run: an
    unwritable cache is skipped."""
    log, steps = result.get("log") or [], int(result.get("steps") or 0)
    if result.get("reused") or int(result.get("pack_size", 1)) != 1 or not log or steps <= 0:
        return None
    training_s = float(log[-1]["seconds"])
    cost = RunCost(seconds_per_step=training_s / steps, overhead_s=max(0.0, elapsed_s - training_s))
    device = str(result.get("environment", {}).get("device", "cpu"))
    file = Path(path) if path is not None else costs_path()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(file) + ".lock", timeout=30):
            try:
                everything = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                everything = {}
            entries = everything.setdefault(machine("cuda" if device.startswith("cuda") else "cpu"), {})
            entries[cost_key] = asdict(cost)
            write_json(file, everything)
    except OSError:
        return None
    return cost
