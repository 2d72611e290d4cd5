"""Milliseconds per training step of the real trainers, reference path and fast path, lone and packed.

Every figure times the trainers themselves (``chimeramix.train.trainers.train_pack``: the one loop, with its
augmentation, NaN checks and logging) on synthetic ciFAIR-10-sized data: k = 10 images of 32 px in each of 10
classes (speed does not depend on the pixels), the protocol's batch sizes. A run trains two epochs of about
``--steps`` steps each; the first is the warm-up (CUDA graph capture on the fast path), the second is timed from
the run's own per-epoch log. Measured:

- classifier, baseline batches (crop + flip) and ChimeraMix+Grid batches (p = 0.5; the generator is the one
  trained by the generator measurement: speed does not depend on its weights);
- generator: one generator step plus one discriminator step at batch 64 (``--generator-batch``), 64 px, grid masks;
- GLICO: a stage-1 step (codes, generator, auxiliary classifier) at batch 128, and the ``glico`` classifier;
- the ``scattering`` classifier (learnable scattering front end under ``--scattering-architecture``, default the
  paper's ``scattering-wrn-8``), on the reference path only (its fast path has not met a GPU yet);
- SuperMix (lone runs; its teacher is the baseline run just timed): the ``supermix`` classifier with mixes made
  on the fly (p = 0.5: the mask optimisation is in the step) and from a pool (a teacher forward pass per mixed
  step), and the seconds to make its pool (``--supermix-pool-per-image``, default 10; batches of 100);
- with ``--pack G`` (default 5, a cell's splits) the same as packs of G runs (seeds 0..G-1): ms per pack
  step and run-steps/s (G / seconds per step), to compare with a lone run's steps/s.

    python benchmarks/steps.py                      # CUDA if available: WRN-16-8, 500 steps, packs of 5
    # a CPU, one thread per run: fp32 against bf16 for the quick preset's networks, side by side
    OMP_NUM_THREADS=1 python benchmarks/steps.py --device cpu --paths reference --pack 1 --precisions fp32,bf16 \\
        --parts generator,baseline,chimeramix-grid --architecture wrn-16-2 --steps 100 --generator-steps 20 \\
        --generator-channels 16 --generator-batch 16
    python benchmarks/steps.py --device cpu --architecture wrn-16-2 --steps 20 --generator-steps 2 \\
        --generator-channels 16 --glico-steps 4 --pack 2 --scattering-architecture scattering-wrn-2 \\
        --supermix-pool-per-image 1
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from chimeramix.config import ClassifierConfig, DataConfig, to_dict
from chimeramix.data import load_training_set
from chimeramix.data.datasets import write_npz
from chimeramix.methods import parse_method
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.methods.supermix.hooks import HOOKS as SUPERMIX
from chimeramix.methods.supermix.settings import SuperMixConfig
from chimeramix.methods.supermix.student import make_pool, teacher_mixer
from chimeramix.resolution import resolve_classifier
from chimeramix.rundir import RunFolder
from chimeramix.runtime import environment, make_rng, select_device
from chimeramix.train.trainers import train_pack

CLASSES = 10
K = 10
IMAGE_SIZE = 32


def synthetic_root(folder: Path) -> Path:
    """A data root holding a ``cifar10`` of k x C random train images and C test images."""
    rng = np.random.default_rng(0)
    for split, per_class in (("train", K), ("test", 1)):
        labels = rng.permutation(np.repeat(np.arange(CLASSES), per_class))
        images = rng.integers(0, 256, size=(len(labels), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        write_npz(folder / "cifar10" / f"{split}.npz",
                  {"images": images, "labels": labels, "classes": np.array([f"c{c}" for c in range(CLASSES)])})
    return folder


def seconds_per_step(results: list[dict[str, Any]]) -> float:
    """The second epoch's seconds per step, from the first run's log (a pack shares its wall time)."""
    first, second = results[0]["log"][:2]
    return (second["seconds"] - first["seconds"]) / (second["step"] - first["step"])


def generator_seconds(root: Path, out: Path, device: str, fast: bool, steps: int, channels: int, batch: int,
                      pack: int, precision: str | None) -> tuple[float, list[Path]]:
    """Seconds per G + D step of one run or a pack; the run folders (finished generators)."""
    repetition = K * math.ceil(steps * batch / (K * CLASSES))  # about `steps` batches per epoch
    configs = [GeneratorConfig(data=DataConfig("cifar10", K, seed, str(root)), epochs=2, repetition=repetition,
                               base_channels=channels, batch_size=batch, checkpoint_every=2, device=device,
                               fast=fast, precision=precision)
               for seed in range(pack)]
    folders = [out / f"generator-{'fast' if fast else 'reference'}-{pack}-{seed}-{precision}" for seed in range(pack)]
    return seconds_per_step(train_pack(configs, folders, progress=False)), folders


def glico_seconds(root: Path, out: Path, device: str, fast: bool, steps: int, pack: int
                  ) -> tuple[float, list[Path]]:
    """Seconds per GLICO stage-1 step (codes, G and the auxiliary classifier at batch 128); the run folders."""
    repetition = K * math.ceil(steps * 128 / (K * CLASSES))
    configs = [GlicoConfig(data=DataConfig("cifar10", K, seed, str(root)), epochs=2, repetition=repetition,
                           checkpoint_every=2, device=device, fast=fast) for seed in range(pack)]
    folders = [out / f"glico-{'fast' if fast else 'reference'}-{pack}-{seed}" for seed in range(pack)]
    return seconds_per_step(train_pack(configs, folders, progress=False)), folders


def classifier_folder(out: Path, method: str, fast: bool, pack: int, seed: int, mode: str = "",
                      precision: str | None = None) -> Path:
    return out / f"classifier-{method}{mode}-{'fast' if fast else 'reference'}-{pack}-{seed}-{precision}"


def classifier_seconds(root: Path, out: Path, device: str, fast: bool, steps: int, architecture: str,
                       method: str, generators: Sequence[Path | None], supermix: SuperMixConfig | None = None,
                       precision: str | None = None) -> float:
    """Seconds per classifier step of one run (one generator, or for supermix one teacher) or a pack (one each
    per run; ``None`` for methods without one)."""
    mode = "" if supermix is None else f"-pool{supermix.pool_per_image}"
    needs = parse_method(method)
    configs = [ClassifierConfig(data=DataConfig("cifar10", K, seed, str(root)), method=method,
                                architecture=architecture, epochs=2, repetition=K * max(1, steps // K),
                                checkpoint_every=2, device=device, fast=fast,
                                method_settings={"supermix": to_dict(supermix)} if supermix else {},
                                generator=str(generators[seed]) if needs.needs_generator
                                and generators[seed] is not None else None,
                                teacher=str(generators[seed]) if needs.needs_teacher else None,
                                precision=precision)
               for seed in range(len(generators))]
    folders = [classifier_folder(out, method, fast, len(configs), seed, mode, precision)
               for seed in range(len(configs))]
    return seconds_per_step(train_pack(configs, folders, progress=False))


def pool_seconds(teacher: Path, device: str, per_image: int) -> tuple[float, int, dict[str, float | None]]:
    """Seconds to make SuperMix's pool of ``per_image`` mixes per training image under ``teacher``; its size, and
    how its mask optimisations went."""
    trained = RunFolder(teacher).read_config(ClassifierConfig)
    config = resolve_classifier(replace(trained, method="supermix", teacher=str(teacher),
                                        method_settings={"supermix": {"pool_per_image": per_image}}))
    settings = SUPERMIX.settings_of(config)
    images = load_training_set(config.data, select_device(device)).images
    mixer = teacher_mixer(config, images.device)
    size = settings.pool_per_image * len(images)
    started = time.perf_counter()
    _, stats = make_pool(mixer, images, size, settings.pool_batch, make_rng(0, images.device))
    return time.perf_counter() - started, size, {**stats.summary(), "batches": stats.optimisations}


PARTS = ("generator", "glico", "baseline", "chimeramix-grid", "scattering", "supermix")
"""What ``--parts`` may name: the generator (G + D), GLICO's stage 1 and its classifier, the baseline and
ChimeraMix+Grid classifiers, the scattering classifier, SuperMix (students and pool)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--architecture", default="wrn-16-8", help="classifier (default: the paper's)")
    parser.add_argument("--steps", type=int, default=500, help="classifier steps per epoch (timed: one epoch)")
    parser.add_argument("--generator-steps", type=int, default=200, help="generator steps per epoch")
    parser.add_argument("--generator-channels", type=int, default=64, help="generator base channels (paper: 64)")
    parser.add_argument("--generator-batch", type=int, default=64, help="generator batch (paper: 64; quick: 16)")
    parser.add_argument("--glico-steps", type=int, default=100, help="GLICO stage-1 steps per epoch")
    parser.add_argument("--scattering-architecture", default="scattering-wrn-8",
                        help="the scattering classifier's network (default: the paper's)")
    parser.add_argument("--supermix-pool-per-image", type=int, default=10,
                        help="SuperMix's pool: mixes per training image (default 10, the method's default)")
    parser.add_argument("--pack", type=int, default=5,
                        help="also time packs of this many runs (default 5, a cell's splits; 1: no)")
    parser.add_argument("--paths", default="reference,fast", help="which paths to time (default both)")
    parser.add_argument("--precisions", default="auto",
                        help="comma-separated: auto (the run's own choice), bf16, fp32; several are timed side by "
                             "side with their ratio (e.g. --precisions fp32,bf16)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"which parts to time (default all: {', '.join(PARTS)})")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    device = select_device(args.device)
    paths = [path.strip() for path in args.paths.split(",")]
    packs = [1] if args.pack <= 1 else [1, args.pack]
    precisions: list[str | None] = [None if name.strip() == "auto" else name.strip()
                                    for name in args.precisions.split(",")]
    parts = {name.strip() for name in args.parts.split(",")}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; use some of {', '.join(PARTS)}")
    rows: list[dict[str, Any]] = []
    for precision in precisions:
        rows += time_parts(args, device, paths, packs, parts, precision)
    if len(precisions) > 1:
        print(side_by_side(rows, precisions))
    info = environment(device)
    print(f"device {info['device_name']} ({device}), torch {info['torch']}, commit {info['commit']}, "
          f"classifier {args.architecture}, scattering {args.scattering_architecture}, "
          f"generator {args.generator_channels} channels")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"environment": info, "architecture": args.architecture,
                       "generator_channels": args.generator_channels, "rows": rows}, handle, indent=1)


def time_parts(args: argparse.Namespace, device: Any, paths: list[str], packs: list[int], parts: set[str],
               precision: str | None) -> list[dict[str, Any]]:
    """Time the chosen parts in one precision (``None``: each run's own choice); the rows of figures."""
    rows: list[dict[str, Any]] = []
    label = precision or "auto"

    def record(part: str, path: str, pack: int, seconds: float) -> None:
        rows.append({"part": part, "path": path, "pack": pack, "precision": label, "ms_per_step": 1000 * seconds,
                     "steps_per_s": 1 / seconds, "run_steps_per_s": pack / seconds})
        print(f"{part:44s} {path:9s} {label:4s} {1000 * seconds:9.2f} ms/step {pack / seconds:10.3f} run-steps/s",
              flush=True)

    with tempfile.TemporaryDirectory(prefix="chimeramix-steps-") as temporary:
        folder = Path(temporary)
        root = synthetic_root(folder / "data")
        generators: dict[int, list[Path]] = {}
        if parts & {"generator", "chimeramix-grid"}:
            for pack in packs:
                for path in paths:
                    seconds, generators[pack] = generator_seconds(root, folder, str(device), path == "fast",
                                                                  args.generator_steps, args.generator_channels,
                                                                  args.generator_batch, pack, precision)
                    record("generator" + (f" pack of {pack}" if pack > 1 else ""), path, pack, seconds)
        stage_one: dict[int, list[Path]] = {}
        if "glico" in parts:
            for pack in packs:
                for path in paths:
                    seconds, stage_one[pack] = glico_seconds(root, folder, str(device), path == "fast",
                                                             args.glico_steps, pack)
                    record("glico stage 1" + (f" pack of {pack}" if pack > 1 else ""), path, pack, seconds)
        methods = [method for method in ("baseline", "chimeramix-grid", "glico") if method in parts]
        if "supermix" in parts and "baseline" not in methods:
            methods.insert(0, "baseline")  # SuperMix's teacher
        for method in methods:
            for pack in packs:
                for path in paths:
                    trained = stage_one[pack] if method == "glico" else generators.get(pack, [None] * pack)
                    seconds = classifier_seconds(root, folder, str(device), path == "fast", args.steps,
                                                 args.architecture, method, trained, precision=precision)
                    record(f"classifier {method}" + (f" pack of {pack}" if pack > 1 else ""), path, pack, seconds)
        if "scattering" in parts:
            for pack in packs:
                seconds = classifier_seconds(root, folder, str(device), False, args.steps,
                                             args.scattering_architecture, "scattering", [None] * pack,
                                             precision=precision)
                record("classifier scattering" + (f" pack of {pack}" if pack > 1 else ""), "reference", pack, seconds)
        if "supermix" in parts:
            teachers = [classifier_folder(folder, "baseline", paths[0] == "fast", 1, 0, precision=precision)]
            for pool in (0, args.supermix_pool_per_image):
                for path in paths:
                    seconds = classifier_seconds(root, folder, str(device), path == "fast", args.steps,
                                                 args.architecture, "supermix", teachers,
                                                 SuperMixConfig(pool_per_image=pool), precision=precision)
                    record(f"classifier supermix ({'pool' if pool else 'on the fly'})", path, 1, seconds)
            made, size, stats = pool_seconds(teachers[0], str(device), args.supermix_pool_per_image)
            print(f"supermix pool of {size} mixes: {made:.1f} s ({stats})", flush=True)
            rows.append({"part": f"supermix pool of {size} mixes", "precision": label, "seconds": made, **stats})
    return rows


def side_by_side(rows: list[dict[str, Any]], precisions: list[str | None]) -> str:
    """One line per part and path: ms/step in each precision, and each against the first (its speed-up)."""
    labels = [precision or "auto" for precision in precisions]
    timed = {(row["part"], row["path"], row["precision"]): row["ms_per_step"] for row in rows if "ms_per_step" in row}
    keys = list(dict.fromkeys((part, path) for part, path, _ in timed))
    header = f"{'part':44s} {'path':9s} " + " ".join(f"{label + ' ms':>10s}" for label in labels)
    lines = ["", header + "".join(f"  {labels[0]}/{label:<5s}" for label in labels[1:])]
    for part, path in keys:
        values = [timed.get((part, path, label)) for label in labels]
        cells = " ".join(f"{value:10.2f}" if value is not None else f"{'-':>10s}" for value in values)
        ratios = "".join(f"  {values[0] / value:>9.2f}x" if values[0] and value else f"  {'-':>10s}"
                         for value in values[1:])
        lines.append(f"{part:44s} {path:9s} {cells}{ratios}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
