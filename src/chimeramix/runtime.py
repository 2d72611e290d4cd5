"""The one place that decides a run's device, precision and seeds, and records its environment."""

from __future__ import annotations

import platform
import random
import subprocess
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from chimeramix.errors import ChimeraMixError


def select_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA if available, else CPU; otherwise the named device (error if it is not available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ChimeraMixError(f"device {name!r} was requested but CUDA is not available; use --device cpu")
    return device


Precision = Literal["bf16", "fp32"]
"""The compute precision of a run: bf16 autocast (weights, optimiser state and losses stay float32), or float32."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX tiles), where bf16 autocast pays: on the
    project's 2-core Xeon with AMX a WRN-16-2 step at batch 10 is 1.7x faster in bf16 (``benchmarks/steps.py
    --device cpu``). Without native bf16, PyTorch emulates it with float32 arithmetic plus conversions, which is
    slower than float32 (see the README's speed section)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, present in torch 2.1 .. 2.14
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def choose_precision(device: torch.device, amp: bool, *, packed: bool = False) -> Precision:
    """THE precision decision: bf16 when ``amp`` is on and the device computes bf16 natively (CUDA, or a CPU
    with AVX512-BF16 / AMX), float32 otherwise (``--no-amp`` switches bf16 off everywhere). A ``packed`` run on a
    CPU (a training pack, vmapped) computes in float32: CPU autocast does not reach the convolutions of PyTorch's
    batching rules (they would meet float32 weights with bf16 inputs)."""
    native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16() and not packed)
    return "bf16" if amp and native else "fp32"


def run_precision(config: Any, device: torch.device, *, packed: bool = False) -> Precision:
    """The precision of a run config on ``device`` (alone or in a training pack): the one it records, else
    :func:`choose_precision`'s."""
    chosen = config.precision or choose_precision(device, config.amp, packed=packed)
    if packed and device.type == "cpu" and chosen == "bf16":
        raise ChimeraMixError("a training pack on a CPU computes in fp32 (CPU autocast does not reach vmapped "
                              "convolutions); drop precision bf16 from its config, or train the runs alone (--pack 1)")
    if chosen not in ("bf16", "fp32"):
        raise ChimeraMixError(f"unknown precision {chosen!r} in the run's config; use bf16 or fp32")
    precision: Precision = chosen
    return precision


def autocast_dtype(precision: str | None) -> torch.dtype | None:
    """The autocast dtype of a precision: bf16, or ``None`` (float32, no autocast)."""
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device_type: str, dtype: torch.dtype | None, cache: bool | None = None) -> torch.autocast:
    """Autocast to ``dtype`` (:func:`autocast_dtype`) on that type of device; a disabled one for ``None`` (float32).
    ``cache=False`` turns autocast's weight cache off (graph capture needs it off)."""
    return torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None, cache_enabled=cache)


def sgd_options(device: torch.device, fast: bool) -> dict[str, Any]:
    """Extra ``torch.optim.SGD`` arguments: fused on CUDA's fast path (it reads a tensor lr on the device; the
    foreach implementation would call ``.item()`` on it); PyTorch's default otherwise. Not fused on a CPU: the
    fused CPU kernels mix up the elements of a channels-last parameter whose gradient or state is laid out
    otherwise (``tests/test_precision.py``), which a lone CPU run's parameters are."""
    return {"fused": True} if fast and device.type == "cuda" else {}


def adam_options(device: torch.device, fast: bool) -> dict[str, Any]:
    """Extra ``torch.optim.Adam`` arguments: capturable on CUDA's fast path (step counts on the device, tensor lr
    allowed); foreach on a CPU (one call per operation for all parameters, where the default loops over them:
    10 instead of 19 ms for the quick generator's G and D steps, the same update; not fused, see
    :func:`sgd_options`)."""
    if device.type == "cpu":
        return {"foreach": True}
    return {"capturable": True} if fast else {}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) for weight initialisation (and dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_rng(seed: int, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (for augmentation randomness)."""
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    return rng


def stream_seed(seed: int, stream: int) -> int:
    """A seed for stream ``stream`` of a run seeded with ``seed``, independent of the plain seed (which
    initialises the weights through torch's global RNG): NumPy's ``SeedSequence([seed, stream])``.

    >>> stream_seed(0, 1) != stream_seed(0, 2) != 0
    True
    """
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def _git(*args: str) -> str | None:
    """Output of a git command in the chimeramix checkout, or ``None`` outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the chimeramix checkout, or ``None`` when not run from a git checkout."""
    output = _git("rev-parse", "HEAD")
    return output.strip() or None if output is not None else None


def git_dirty() -> bool | None:
    """Whether the checkout's tracked files differ from its commit (``None`` outside a git checkout)."""
    output = _git("status", "--porcelain", "--untracked-files=no")
    return bool(output.strip()) if output is not None else None


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, commit and device of this process, recorded with every result."""
    import torchvision

    from chimeramix.version import __version__

    info: dict[str, Any] = {
        "chimeramix": __version__,
        "commit": git_commit(),
        "commit_dirty": git_dirty(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "host": platform.node(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info
