"""The quick preset's ChimeraMix generator step (G + D, batch 16, 64 px, 16 channels) on a CPU, this checkout
against an earlier commit, side by side in one run.

Each side trains the same generator through its own trainers (``train_pack``: the one loop, batches, masks,
both optimiser steps) on synthetic CIFAR-sized data for two epochs and reads the second epoch's seconds per step
from the run's log; each runs in a fresh process on one thread with its source tree first on ``sys.path``, and
the two take turns for ``--rounds`` rounds. The earlier commit is exported with ``git archive`` into a temporary
folder (the checkout is not touched). Each side computes in the precision its code chooses (at e27164c: float32
on every CPU).

    python benchmarks/generator_cpu.py --against e27164c --rounds 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CLASSES, K, SIZE = 10, 10, 32


def child(source: Path, steps: int, folder: Path) -> None:
    """Time the quick generator with the chimeramix of ``source`` (prints JSON: seconds per step, precision)."""
    sys.path.insert(0, str(source / "src"))
    import numpy as np
    import torch

    from chimeramix.config import DataConfig
    from chimeramix.data.datasets import write_npz
    from chimeramix.methods.chimeramix.settings import GeneratorConfig
    from chimeramix.resolution import apply_preset
    from chimeramix.train.trainers import train_pack

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for split, per_class in (("train", K), ("test", 1)):
        labels = rng.permutation(np.repeat(np.arange(CLASSES), per_class))
        images = rng.integers(0, 256, size=(len(labels), SIZE, SIZE, 3), dtype=np.uint8)
        write_npz(folder / "data" / "cifar10" / f"{split}.npz",
                  {"images": images, "labels": labels, "classes": np.array([f"c{c}" for c in range(CLASSES)])})
    config = apply_preset(GeneratorConfig(data=DataConfig("cifar10", K, 0, str(folder / "data")), device="cpu"),
                          "quick")
    batch = int(config.batch_size or 16)
    repetition = K * math.ceil(steps * batch / (K * CLASSES))
    trial = replace(config, epochs=2, repetition=repetition, checkpoint_every=2)
    result = train_pack([trial], [folder / "run"], progress=False)[0]
    first, second = result["log"][:2]
    seconds = (second["seconds"] - first["seconds"]) / (second["step"] - first["step"])
    print(json.dumps({"seconds": seconds, "precision": result["config"].get("precision") or "fp32"}))


def export(commit: str, folder: Path) -> Path:
    """The source tree of ``commit`` (its ``src``) exported into ``folder``."""
    archive = folder / "source.tar"
    subprocess.run(["git", "-C", str(REPOSITORY), "archive", "--format=tar", "-o", str(archive), commit, "src"],
                   check=True)
    with tarfile.open(archive) as handle:
        handle.extractall(folder / commit, filter="data")
    return folder / commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="e27164c", help="the earlier commit (default e27164c)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch (the second epoch is timed)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        with tempfile.TemporaryDirectory(prefix="chimeramix-generator-") as folder:
            child(args.child, args.steps, Path(folder))
        return
    commit = subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="chimeramix-against-") as temporary:
        sides = {args.against: export(args.against, Path(temporary)), f"{commit} (this checkout)": REPOSITORY}
        times: dict[str, list[float]] = {name: [] for name in sides}
        precision: dict[str, str] = {}
        for round_ in range(args.rounds):
            for name, source in sides.items():
                env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
                output = subprocess.run([sys.executable, __file__, "--child", str(source), "--steps", str(args.steps)],
                                        env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                                        check=True).stdout
                measured = json.loads(output.splitlines()[-1])
                times[name].append(measured["seconds"])
                precision[name] = measured["precision"]
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    reference = statistics.median(times[args.against])
    print(f"{'code':28s} {'precision':9s} {'ms/step (median)':>17s} {'min':>8s} {'max':>8s} {'speed-up':>9s}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28s} {precision[name]:9s} {1000 * median:17.1f} {1000 * min(values):8.1f} "
              f"{1000 * max(values):8.1f} {reference / median:8.2f}x")
    print(f"the quick generator (G + D, batch 16, 64 px, 16 channels), {args.steps} timed steps per run, "
          f"{args.rounds} rounds, one thread")


if __name__ == "__main__":
    main()
