"""Job throughput of a local sweep with 1 worker and with N workers on this machine's cores: workers must
share the cores (each gets cores / N threads), not fight over them (issue "Every failure a user meets ...").

Runs the same small sweep twice into fresh stores: quick-preset baseline classifiers on CIFAR-10 (k = 10,
``--jobs`` split seeds, ``--epochs`` epochs each, each job also loading the data and evaluating the 10,000
test images), with ``--workers 1`` and ``--workers N``; prints wall time and jobs per minute of each.

    python benchmarks/workers.py --data-root ../shared/data            # 4 jobs, workers 1 vs 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep_seconds(store: Path, workers: int, args: argparse.Namespace) -> float:
    command = [sys.executable, "-m", "chimeramix", "sweep", "--datasets", "cifar10", "--methods", "baseline",
               "--k", "10", "--seeds", f"0-{args.jobs - 1}", "--preset", "quick", "--device", "cpu",
               "--classifier-set", f"epochs={args.epochs}", "--workers", str(workers), "--store", str(store),
               "--no-progress"]
    if args.data_root:
        command += ["--data-root", args.data_root]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="the second sweep's workers (default 2)")
    parser.add_argument("--jobs", type=int, default=4, help="classifier jobs per sweep (default 4)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per job (default 2: 100 steps)")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chimeramix-workers-") as folder:
        rates = {}
        for workers in (1, args.workers):
            seconds = sweep_seconds(Path(folder) / f"store-{workers}", workers, args)
            rates[workers] = args.jobs / seconds * 60
            print(f"--workers {workers}: {args.jobs} jobs in {seconds:6.1f} s, {rates[workers]:5.2f} jobs/min",
                  flush=True)
    print(f"throughput of --workers {args.workers} / --workers 1: {rates[args.workers] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
