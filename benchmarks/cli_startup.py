"""Seconds from starting ``chimeramix ... --help`` to its exit, for the command and every sub-command (the
imports it pays before it can answer). Target: under 1 s each (issue "Every failure a user meets ...").

    python benchmarks/cli_startup.py            # fastest of 5 runs each
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMANDS = ([], ["data"], ["data", "prepare"], ["data", "split"], ["data", "pack"], ["generator", "train"],
            ["generator", "sample"], ["classifier", "train"], ["run"], ["sweep"], ["table"],
            ["compare"], ["predict"], ["export"], ["report"], ["analyze", "fid"], ["analyze", "embed"])


def seconds(command: list[str], repeats: int) -> float:
    fastest = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chimeramix", *command, "--help"], check=True,
                       stdout=subprocess.DEVNULL)
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    worst = 0.0
    for command in COMMANDS:
        value = seconds(command, args.repeats)
        worst = max(worst, value)
        print(f"chimeramix {' '.join(command):22s} --help  {value:5.2f} s", flush=True)
    print(f"slowest {worst:.2f} s ({'under' if worst < 1 else 'OVER'} the 1 s target)")


if __name__ == "__main__":
    main()
