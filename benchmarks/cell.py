"""Wall time of one cell of the paper's protocol: 5 splits x {baseline, chimeramix-grid}, generators included.

Runs ``chimeramix sweep`` (the paper preset: 200 epochs, repetition max(500 // k, 1)) into a fresh store,
then prints the wall time and ``chimeramix table`` of the store (mean ± std over the splits), so the
accuracy of the fast path can be compared with the reference path's (issue #6: target <= 15 min on one H100
for ciFAIR-10 at k = 10 with ``--path fast``). ``--set KEY=VALUE`` shortens a trial run (both trainers).

    python benchmarks/cell.py --path fast --workers 2 --pack 10 --store /tmp/cell-fast
    python benchmarks/cell.py --path fast --workers 5 --pack 10 --generator-pack 1 --store /tmp/cell-fast2
    python benchmarks/cell.py --path reference --store /tmp/cell-ref
    python benchmarks/cell.py --path fast --set epochs=1 --store /tmp/cell-try   # a quick check
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from chimeramix.runtime import git_commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=("reference", "fast"), required=True)
    parser.add_argument("--store", type=Path, required=True, help="a new (or empty) results store folder")
    parser.add_argument("--dataset", default="cifar10",
                        help="cifar10 (default: what shared/data holds) or cifair10 once prepared")
    parser.add_argument("--k", default="10")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--methods", default="baseline,chimeramix-grid")
    parser.add_argument("--workers", type=int, default=1, help="jobs at once on this machine (processes)")
    parser.add_argument("--pack", type=int, default=1,
                        help="runs per pack (one batched model; `chimeramix sweep --pack`)")
    parser.add_argument("--generator-pack", type=int, default=None,
                        help="generator runs per pack (default: --pack; `chimeramix sweep --generator-pack`)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of both trainers' configs, e.g. epochs=1 (repeatable)")
    args = parser.parse_args()
    if args.store.exists() and any(args.store.iterdir()):
        parser.error(f"{args.store} is not empty: a cell is timed from scratch, choose a new --store")
    command = [sys.executable, "-m", "chimeramix", "sweep", "--datasets", args.dataset, "--methods", args.methods,
               "--k", args.k, "--seeds", args.seeds, "--preset", "paper", "--store", str(args.store),
               "--workers", str(args.workers), "--pack", str(args.pack), "--device", args.device, "--no-progress",
               *(["--fast"] if args.path == "fast" else [])]
    if args.generator_pack is not None:
        command += ["--generator-pack", str(args.generator_pack)]
    for override in args.set:
        command += ["--generator-set", override, "--classifier-set", override]
    if args.data_root:
        command += ["--data-root", args.data_root]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    seconds = time.perf_counter() - started
    print(f"cell wall time: {seconds:.1f} s ({seconds / 60:.1f} min), path {args.path}, workers "
          f"{args.workers}, pack {args.pack}, generator pack {args.generator_pack or args.pack}, commit "
          f"{git_commit()}, exit code {code}", flush=True)
    subprocess.run([sys.executable, "-m", "chimeramix", "table", "--store", str(args.store)], check=False)
    sys.exit(code)


if __name__ == "__main__":
    main()
