"""Progress bars of training loops and sweeps: how often they update (logs stay readable)."""

from __future__ import annotations

import os

from tqdm import tqdm

PROGRESS_INTERVAL_VARIABLE = "CHIMERAMIX_PROGRESS_INTERVAL"
"""Seconds between progress-bar updates (sweep workers set it, so that their logs stay readable)."""


def progress_bar(desc: str, total: int, initial: int = 0, *, enabled: bool = True) -> tqdm:
    """A training loop's progress bar in steps; it updates at most every ``$CHIMERAMIX_PROGRESS_INTERVAL``
    seconds (default 0.1), read when the bar is made."""
    interval = float(os.environ.get(PROGRESS_INTERVAL_VARIABLE, "0.1"))
    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True,
                mininterval=interval)
