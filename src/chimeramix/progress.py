"""Progress bars of training loops and sweeps (how often they update, so that logs stay readable), and notices:
the lines the command line always shows about what a run does (it resumed, it was interrupted, a file was
rebuilt)."""

from __future__ import annotations

import logging
import os
import sys

from tqdm import tqdm

PROGRESS_INTERVAL_VARIABLE = "CHIMERAMIX_PROGRESS_INTERVAL"
"""Seconds between progress-bar updates (sweep workers set it, so that their logs stay readable)."""


NOTICE = logging.getLogger("chimeramix.notice")
"""Info lines the command line prints even with its progress bars on (its other info lines only without)."""
NOTICE.setLevel(logging.INFO)

FILE_INTERVAL_S = 30.0
"""Seconds between updates when the bar goes to a file or a pipe, not a terminal: one line each."""


def progress_bar(desc: str, total: int, initial: int = 0, *, enabled: bool = True) -> tqdm:
    """A training loop's progress bar in steps; it updates at most every ``$CHIMERAMIX_PROGRESS_INTERVAL``
    seconds (read when the bar is made; default 0.1 on a terminal, :data:`FILE_INTERVAL_S` otherwise)."""
    default = 0.1 if sys.stderr.isatty() else FILE_INTERVAL_S
    interval = float(os.environ.get(PROGRESS_INTERVAL_VARIABLE, default))
    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True,
                mininterval=interval)
