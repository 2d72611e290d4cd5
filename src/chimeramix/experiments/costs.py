"""What runs cost: this machine's measurements (seconds per step and the fixed cost of a run: start-up, data
loading, the final evaluation, pictures), cached after every finished run, and the estimates made from them
(or from defaults before anything was measured).

The cache is one JSON file in the user's cache folder (``$XDG_CACHE_HOME/chimeramix/run-costs.json``), keyed
by host, device kind and, on a CPU, the threads a run computes on (``host/cpu-2t``: a sweep's workers share the
cores), then by a job's cost key (``classifier/wrn-16-2/32px/bf16``, ``generator/64px-16ch-b16/bf16``); each
entry keeps the history of its last :data:`HISTORY_SIZE` measurements (with when, and at what load average on
how many cores, each was taken), and estimates and plans use their median: one run slowed down by a loaded
machine does not move a plan, a lasting change of the machine does after a few runs. Training packs are not
recorded (a pack's step is not one run's step). The estimates of a list of jobs are
:mod:`chimeramix.experiments.estimates`.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median_low
from typing import Any

from filelock import FileLock

from chimeramix.components.registry import all_hooks
from chimeramix.data.datasets import user_cache_dir
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import write_json
from chimeramix.runkinds import run_kind

COSTS_FILE = "run-costs.json"


@dataclass(frozen=True)
class RunCost:
    """A run's measured cost: ``overhead_s + steps * seconds_per_step``."""

    seconds_per_step: float
    overhead_s: float


def costs_path() -> Path:
    return user_cache_dir() / "chimeramix" / COSTS_FILE


def machine(device_kind: str, threads: int | None = None) -> str:
    """The cache's key of this machine and device kind (``cpu`` or ``cuda``); on a CPU with the ``threads`` a run
    computes on (default: this process's)."""
    if device_kind != "cpu":
        return f"{socket.gethostname()}/{device_kind}"
    return f"{socket.gethostname()}/cpu-{threads or compute_threads()}t"


def compute_threads() -> int:
    """The threads this process computes on (torch's setting; ``OMP_NUM_THREADS`` when torch loads)."""
    import torch  # only when estimating or recording

    return torch.get_num_threads()


def load_costs(device_kind: str, path: str | os.PathLike[str] | None = None, threads: int | None = None
               ) -> dict[str, RunCost]:
    """The measured costs on this machine's ``device_kind`` (on a CPU: with ``threads``, default this process's),
    by cost key, each the median of its entry's history (:func:`median_cost`); empty when none were measured."""
    file = Path(path) if path is not None else costs_path()
    try:
        entries = json.loads(file.read_text(encoding="utf-8")).get(machine(device_kind, threads), {})
        return {key: median_cost(entry_history(value)) for key, value in entries.items()}
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return {}  # no cache yet, or a damaged one: estimates fall back to the defaults


def record_cost(cost_key: str, result: dict[str, Any], elapsed_s: float,
                path: str | os.PathLike[str] | None = None) -> RunCost | None:
    """Record the cost of a finished run from its ``result`` and the ``elapsed_s`` seconds the job took in
    all, in the history of its cache entry; returns the cost estimates use from now on, the median of that
    history (``None`` for a pack, a reused result or a run without steps). A pool of mixes in the result
    (``pool``: its ``seconds`` and ``mixes``) is recorded as a per-mix cost of its own and left out of the run's
    fixed cost. Never fails a run: an unwritable cache is skipped."""
    log, steps = result.get("log") or [], int(result.get("steps") or 0)
    if result.get("reused") or int(result.get("pack_size", 1)) != 1 or not log or steps <= 0:
        return None
    training_s = float(log[-1]["seconds"])
    pool = result.get("pool") or {}
    pool_s, mixes = float(pool.get("seconds") or 0.0), int(pool.get("mixes") or 0)
    costs = {cost_key: RunCost(seconds_per_step=training_s / steps,
                               overhead_s=max(0.0, elapsed_s - training_s - pool_s))}
    if pool_s and mixes:  # a pool of mixes made by this run: its seconds per mix
        costs[pool_mix_key(cost_key)] = RunCost(seconds_per_step=pool_s / mixes, overhead_s=0.0)
    environment = result.get("environment", {})
    device, threads = str(environment.get("device", "cpu")), environment.get("threads")
    file = Path(path) if path is not None else costs_path()
    try:
        return _add_to_cache(file, machine("cuda" if device.startswith("cuda") else "cpu", threads), costs)[cost_key]
    except OSError:
        return None


def _add_to_cache(file: Path, machine_key: str, costs: dict[str, RunCost]) -> dict[str, RunCost]:
    """Add ``costs`` (by cost key) to the histories of ``machine_key``'s entries in the cache ``file``, under its
    lock and atomically; returns the entries' costs now (their medians)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(file) + ".lock", timeout=30):
        try:
            everything = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            everything = {}
        if not isinstance(everything, dict):
            everything = {}  # a damaged cache starts afresh
        entries = everything.get(machine_key)
        entries = everything[machine_key] = entries if isinstance(entries, dict) else {}
        for key, cost in costs.items():
            entries[key] = with_measurement(entries.get(key), measurement(cost))
        write_json(file, everything)
    return {key: median_cost(entries[key]["history"]) for key in costs}


# ------------------------------------------------------------------------------------- cache entries' histories

HISTORY_SIZE = 5
"""The measurements a cache entry keeps, the latest ones; estimates use their median (:func:`median_cost`)."""


def measurement(cost: RunCost) -> dict[str, Any]:
    """A history's record of ``cost`` measured now: with the time (UTC), the load average of the last minute
    (``None`` where the system has none) and this machine's CPU count."""
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return {**asdict(cost), "at": datetime.now(UTC).isoformat(timespec="seconds"), "load": load,
            "cpus": os.cpu_count()}


def entry_history(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """A cache entry's measurements, oldest first: its ``history``, or, for an entry of the old format
    (``{"seconds_per_step": ..., "overhead_s": ...}``, the latest measurement only), a history of that one."""
    return list(entry["history"]) if "history" in entry else [entry]


def median_cost(history: list[dict[str, Any]]) -> RunCost:
    """The cost of a history of measurements: the median of their seconds per step and, apart, of their
    overheads. Of an even count it is the lower of the two middle values (a measured value; of two, the faster
    one: a loaded machine only ever slows a run down). An empty history has none (``ValueError``)."""
    return RunCost(seconds_per_step=median_low(float(each["seconds_per_step"]) for each in history),
                   overhead_s=median_low(float(each["overhead_s"]) for each in history))


def with_measurement(entry: Any, record: dict[str, Any], size: int = HISTORY_SIZE) -> dict[str, Any]:
    """A cache ``entry`` (``None`` when there is none yet) with ``record`` added to its history, which keeps the
    latest ``size``; a damaged entry's history is dropped."""
    try:
        history = entry_history(entry)
        median_cost(history)  # readable
    except (TypeError, ValueError, KeyError, AttributeError):
        history = []
    return {"history": [*history, record][-size:]}


# ---------------------------------------------------------------------------------------------- cost keys

def cost_key(kind: str, config: dict[str, Any]) -> str:
    """Key of a run's per-step cost: what its speed depends on, most general first, so that a cost measured for
    one run stands in for a similar one (:func:`chimeramix.experiments.costs.key_prefixes`):

    - ``generator/<working size>px-<base channels>ch-b<batch>/<precision>``;
    - ``<a component's kind>/<what its kind's speed depends on>/<precision>``;
    - ``classifier/<architecture>[/<variant>]/<image size>px/<precision>``, the variant being a ChimeraMix
      method's generator (``compose-32px-16ch``) or what a component's step costs besides the network (its
      ``cost_variant`` hook, e.g. mixes from a pool or made on the fly).
    """
    return run_kind(kind).cost_key(config, expected_precision(config))


def expected_precision(config: dict[str, Any]) -> str:
    """The precision a run config will compute in on this machine: the one it records, else the one its device
    gets here (:func:`chimeramix.runtime.choose_precision`)."""
    if config.get("precision"):
        return str(config["precision"])
    from chimeramix.runtime import choose_precision, select_device  # imports torch: only when estimating

    device = str(config.get("device", "auto"))
    try:
        return choose_precision(select_device(device), bool(config.get("amp", True)))
    except ChimeraMixError:  # a CUDA config estimated on a machine without CUDA
        return "bf16" if config.get("amp", True) else "fp32"


# --------------------------------------------------------------------------------------------- estimates

def pool_mix_key(cost_key: str) -> str:
    """The key of the per-mix cost of the pool of a job with ``cost_key``: its variant (what a step costs besides
    the network) with ``-mix`` (``classifier/wrn-16-2/NAME-pool/32px/bf16`` ->
    ``classifier/wrn-16-2/NAME-pool-mix/32px/bf16``)."""
    parts = cost_key.split("/")
    return "/".join([*parts[:2], f"{parts[2]}-mix", *parts[3:]])


def key_prefixes(key: str, shortest: int = 1) -> list[str]:
    """A cost key and its ever more general prefixes, down to ``shortest`` parts: a cost measured for exactly
    this run is used first, then one of the same network in another precision or size, then the kind's.

    >>> key_prefixes("classifier/wrn-16-2/32px/bf16")
    ['classifier/wrn-16-2/32px/bf16', 'classifier/wrn-16-2/32px', 'classifier/wrn-16-2', 'classifier']
    """
    parts = key.split("/")
    return ["/".join(parts[:count]) for count in range(len(parts), shortest - 1, -1)]


DEFAULT_STEP_SECONDS: dict[str, dict[str, float]] = {
    "cpu": {
        "classifier/wrn-16-2": 0.08,
        "classifier/wrn-16-8": 1.0,
        "classifier/resnet50/96px": 2.0,
        "classifier": 1.0,
    },
    "cuda": {
        "classifier/wrn-16-8": 0.007,
        "classifier/resnet50/96px": 0.03,
        "classifier": 0.007,
    },
}
"""Seconds per optimizer step by device and ``Job.cost_key``, for estimates before this machine has measured
its own (:mod:`chimeramix.experiments.costs` caches those after every run and estimates prefer them); under
the ``-mix`` keys (:func:`pool_mix_key`), seconds per mix of a pool of mixes, made before training.

CPU (an idle 2-core AMD EPYC, 2 threads, the whole trainer): WRN-16-2 at batch 10 was measured
(``docs/training-core``: 39.5 s for 500 steps; a classifier default without an image size is for 32 px images
and scaled by the pixels to another size, :data:`DEFAULT_IMAGE_SIZE`); the others are rough extrapolations. The
kinds of run that method components declare, and their compositions, come with their own defaults
(:func:`default_step_seconds`). CUDA: the WRN-16-8 figure is the protocol's H100 eager measurement at batch 10;
the rest are guesses until measured on a GPU. Override any of them with ``--step-seconds KEY=SECONDS``; a key
may also be just a kind (``classifier``: any architecture).
"""

def default_step_seconds(device: str) -> dict[str, float]:
    """:data:`DEFAULT_STEP_SECONDS` of ``device`` and those the method components declare (their hooks)."""
    declared = {key: seconds for hooks in all_hooks().values()
                for key, seconds in hooks.step_seconds.get(device, {}).items()}
    return {**DEFAULT_STEP_SECONDS.get(device, {}), **declared}


DEFAULT_IMAGE_SIZE = 32
"""The image size of the default classifier costs whose key names none; at another size a default is scaled
by the pixels (a convolution's work grows with them: WRN-16-2 at 96 px is 9 times its 32 px step)."""


@dataclass
class CostBook:
    """The costs estimates and budgets use on one device kind: costs ``given`` on the command line, else this
    machine's ``measured`` ones, else the defaults (a classifier's scaled to its image size); each looked up by a
    job's cost key, then its more general prefixes (:func:`key_prefixes`)."""

    device: str
    given: dict[str, float] = field(default_factory=dict)
    """Seconds per step (or per mix) by cost key (``--step-seconds``)."""
    measured: dict[str, RunCost] = field(default_factory=dict)
    threads: int | None = None
    """On a CPU: the threads the runs compute on, whose costs ``measured`` holds (None: this process's)."""

    @classmethod
    def of_this_machine(cls, device: str, given: dict[str, float] | None = None, threads: int | None = None
                        ) -> CostBook:
        """The costs measured here for runs on ``threads`` threads (default: this process's)."""
        return cls(device, dict(given or {}), load_costs(device, threads=threads), threads)

    def machine(self) -> str:
        """The cost cache's key of the machine, device kind and threads these costs are of (``host/cpu-1t``)."""
        return machine(self.device, self.threads)

    def step_seconds(self, key: str) -> float:
        """Seconds per step of a run with cost ``key`` (or per mix, under a ``-mix`` key)."""
        return self._unit(key)[0]

    def source(self, key: str) -> str:
        """Where :meth:`step_seconds` finds ``key``'s cost: ``given``, ``measured`` or ``default``."""
        return self._unit(key)[1]

    def describe(self, key: str) -> str:
        """``0.720 s/step (default of classifier/wrn-16-2 at 32 px, scaled to 96 px)``: the cost and its basis."""
        seconds, source, name = self._unit(key)
        basis = source if name == key else f"{source} of {name}"
        size = image_size(key)
        if source == "default" and _scale(key, name) != 1.0:
            basis += f" at {DEFAULT_IMAGE_SIZE} px, scaled to {size} px"
        return f"{seconds:.3g} s/step ({basis})"

    def overhead(self, key: str) -> float:
        """The fixed seconds of a run with cost ``key``: measured for it (or a prefix), else the kind's default."""
        measured = next((self.measured[name] for name in key_prefixes(key, 2) if name in self.measured), None)
        if measured is not None:
            return measured.overhead_s
        return run_kind(key.split("/")[0]).overhead_seconds.get(self.device, 0.0)

    def _unit(self, key: str) -> tuple[float, str, str]:
        """The cost of ``key``, where it was found and under which name."""
        mix = "-mix/" in key
        names = [*key_prefixes(key, 3), key.split("/")[2]] if mix else key_prefixes(key)
        sources = (("given", self.given), ("measured", {name: cost.seconds_per_step
                                                        for name, cost in self.measured.items()}),
                   ("default", default_step_seconds(self.device)))
        for source, costs in sources:
            for name in names:
                if name in costs:
                    return costs[name] * (_scale(key, name) if source == "default" else 1.0), source, name
        raise ChimeraMixError(f"no per-step cost of {key} on {self.device}; pass --step-seconds {key}=SECONDS")


def image_size(key: str) -> int | None:
    """The image size a classifier cost key names (``classifier/wrn-16-2/96px/bf16`` -> 96), else ``None``."""
    sizes = [int(part[:-2]) for part in key.split("/") if re.fullmatch(r"\d+px", part)]
    return sizes[0] if sizes else None


def _scale(key: str, name: str) -> float:
    """The factor that takes a default classifier cost found under ``name`` (no image size: 32 px) to ``key``'s
    image size: the ratio of the pixels."""
    size = image_size(key)
    if not key.startswith("classifier/") or size is None or image_size(name) is not None:
        return 1.0
    return (size / DEFAULT_IMAGE_SIZE) ** 2
