"""The one place that decides a run's device, precision and seeds, and records its environment."""

from __future__ import annotations

import platform
import random
import subprocess
from pathlib import Path
from typing import Any

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


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """bf16 autocast on CUDA when ``amp`` is on; ``None`` (full precision) otherwise."""
    return torch.bfloat16 if amp and device.type == "cuda" else None


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
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info
