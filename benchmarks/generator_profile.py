"""Where a ChimeraMix generator step's time goes on a CPU: each part of one G + D step timed on its own.

The run is the quick preset's generator (batch 16 pairs, 64 px, 16 channels; ``--size 32`` for a budget's
generator), opened by the real trainer on synthetic CIFAR-sized data; its modules are channels-last as the loop
makes a lone CPU run. Each part runs ``--repeats`` times after a warm-up, forward and backward together where
the step has both:

- batch: partners, flips, masks (grid; ``--mask seg``: cached Felzenszwalb segments) and the images at the
  working size;
- encoder f on the 2 x 16 images; decoder g on their 2 x 16 reconstructions and the 16 compositions;
- the discriminator D in the generator step (gradients to the compositions) and in its own step (to its weights,
  on the 16 real and 16 composed images);
- the losses: reconstruction and the Laplacian pyramid (3 levels) on both reconstructions;
- the two Adam steps;

then the whole step (``AdversarialObjective.step``) for comparison with the parts' sum.

    OMP_NUM_THREADS=1 python benchmarks/generator_profile.py --precisions fp32,bf16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chimeramix.config import DataConfig, MaskConfig
from chimeramix.data.datasets import write_npz
from chimeramix.losses import laplacian_loss, reconstruction_loss
from chimeramix.methods.chimeramix.masks import blend
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import GeneratorRun, open_generator_run
from chimeramix.resolution import apply_preset
from chimeramix.train.loop import to_channels_last


def synthetic_root(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 10), ("test", 1)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        images = rng.integers(0, 256, size=(len(labels), 32, 32, 3), dtype=np.uint8)
        write_npz(folder / "cifar10" / f"{split}.npz",
                  {"images": images, "labels": labels, "classes": np.array([f"c{c}" for c in range(10)])})
    return folder


def seconds(function: Callable[[], Any], repeats: int) -> float:
    for _ in range(2):
        function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def profile(run: GeneratorRun, repeats: int) -> dict[str, float]:
    """Seconds of every part of one step, and of the whole step."""
    objective, optimizers = run.objective, run.optimizers
    generator, discriminator = run.generator, run.discriminator
    encoder, decoder = generator.encoder, generator.decoder
    positions = run.epoch_batches(0)[0]
    images, weights, discriminator_weights, real_index = run.batch(positions)
    images = images.contiguous(memory_format=torch.channels_last)
    count = weights.shape[1]
    with torch.no_grad(), objective.autocast():
        features = generator.encode(images)
        mixed_features = blend(features.unflatten(0, (count, -1)), weights)
        decoded = generator.decode(torch.cat([features, mixed_features]))
    composed = decoded.chunk(count + 1)[-1].float()
    reconstructed = torch.cat(decoded.chunk(count + 1)[:-1]).float()

    def backward_of(module: torch.nn.Module, inputs: torch.Tensor, *, to_input: bool = False) -> None:
        inputs = inputs.detach().requires_grad_(to_input)
        with objective.autocast():
            output = module(inputs)
        output.float().sum().backward(inputs=[inputs] if to_input else None)

    def losses() -> None:
        hat = reconstructed.detach().requires_grad_()
        total = sum(reconstruction_loss(a, b) + laplacian_loss(a, b)
                    for a, b in zip(hat.chunk(count), images.chunk(count)))
        assert isinstance(total, torch.Tensor)
        total.backward()

    parts: dict[str, Callable[[], Any]] = {
        "batch (partners, flips, masks, resize)": lambda: run.batch(positions),
        "encoder f, forward + backward": lambda: backward_of(encoder, images),
        "decoder g, forward + backward": lambda: backward_of(decoder, torch.cat([features, mixed_features])),
        "D in the generator step (to the input)": lambda: backward_of(discriminator, composed, to_input=True),
        "D step (to its weights)": lambda: backward_of(discriminator, torch.cat([images.chunk(count)[0], composed])),
        "losses: reconstruction + Laplacian": losses,
        "Adam steps (G and D)": lambda: [optimizer.step() for optimizer in optimizers.values()],
    }
    timed = {name: seconds(function, repeats) for name, function in parts.items()}
    step = type(objective).step
    timed["the whole step"] = seconds(lambda: step(objective, optimizers, images, weights, discriminator_weights,
                                                    real_index), repeats)
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--size", type=int, default=64, help="the generator's working size (quick: 64)")
    parser.add_argument("--mask", choices=("grid", "seg"), default="grid")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chimeramix-profile-") as folder:
        root = synthetic_root(Path(folder) / "data")
        for precision in args.precisions.split(","):
            config = apply_preset(GeneratorConfig(data=DataConfig("cifar10", 10, 0, str(root)),
                                                  masks=MaskConfig(kind=args.mask), device="cpu"), "quick")
            config = replace(config, working_size=args.size, precision=precision)
            run = open_generator_run(config, Path(folder) / f"run-{precision}")
            assert isinstance(run, GeneratorRun)
            to_channels_last(run.objective, run.optimizers.values())
            rows[precision] = profile(run, args.repeats)
    names = list(next(iter(rows.values())))
    print(f"{'part of the step':42s}" + "".join(f" {p + ' ms':>10s} {'%':>5s}" for p in rows))
    for name in names:
        cells = "".join(f" {1000 * rows[p][name]:10.1f} {100 * rows[p][name] / rows[p]['the whole step']:5.0f}"
                        for p in rows)
        print(f"{name:42s}{cells}")
    parts_sum = {p: sum(value for name, value in rows[p].items() if name != "the whole step") for p in rows}
    print(f"{'sum of the parts':42s}" + "".join(f" {1000 * parts_sum[p]:10.1f} {'':>5s}" for p in rows))
    print(f"quick generator ({args.size} px, 16 channels, batch 16, {args.mask} masks), channels-last, one thread, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
