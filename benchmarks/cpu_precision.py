"""Milliseconds per training step on a CPU: float32 against bf16 autocast, NCHW against channels-last, and bf16
where the CPU's native bf16 instructions are switched off (what a CPU without AVX512-BF16 or AMX does).

Each figure times one network's whole training step (forward, backward, optimiser) as the trainers build it, on
one thread: the quick classifier (WRN-16-2 at batch 10, SGD with Nesterov momentum) and the ChimeraMix generator
with its discriminator (:class:`~chimeramix.methods.chimeramix.objective.AdversarialObjective` at batch 16, 64 px
and 32 px, 16 channels, Adam). Every configuration runs in a fresh process, the configurations take turns for
``--rounds`` rounds, and the table gives each one's median with the ratio to float32 NCHW. ``--isa`` adds rows
with oneDNN limited to an instruction set (``ONEDNN_MAX_CPU_ISA``; ``AVX512_CORE`` has no bf16 instructions, so
bf16 is emulated there, as on a CPU without native bf16).

    python benchmarks/cpu_precision.py --rounds 3 --isa AVX512_CORE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

NETWORKS = ("wrn-16-2", "generator-64px", "generator-32px")


def time_step(network: str, precision: str, channels_last: bool, steps: int) -> float:
    """Seconds per training step of ``network`` (in this process, one thread)."""
    import torch

    from chimeramix.classifier.objective import ClassifierObjective
    from chimeramix.methods.chimeramix.discriminator import PatchDiscriminator
    from chimeramix.methods.chimeramix.generator import MixingGenerator
    from chimeramix.methods.chimeramix.masks import build_image_masks
    from chimeramix.methods.chimeramix.objective import AdversarialObjective
    from chimeramix.methods.chimeramix.settings import GeneratorConfig, resolve_generator
    from chimeramix.models.classifiers import build_classifier
    from chimeramix.train.loop import to_channels_last

    torch.set_num_threads(1)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if precision == "bf16" else None
    rng = torch.Generator().manual_seed(0)
    if network == "wrn-16-2":
        model = build_classifier("wrn-16-2", 10, dropout=0.3)
        objective: Any = ClassifierObjective(model, torch.nn.CrossEntropyLoss(), dtype)
        optimizers = {"sgd": torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                             weight_decay=5e-3)}
        batch: tuple[torch.Tensor, ...] = (torch.randn(10, 3, 32, 32), torch.randint(0, 10, (10,)))
    else:
        size = int(network.split("-")[1].removesuffix("px"))
        config = resolve_generator(GeneratorConfig(working_size=size, base_channels=16, batch_size=16))

        def autocast() -> Any:
            return torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None)

        objective = AdversarialObjective(MixingGenerator.from_config(config), PatchDiscriminator(), config, autocast)
        optimizers = {name: torch.optim.Adam(module.parameters(), lr=2e-4, betas=(0.5, 0.999))
                      for name, module in (("generator", objective.generator),
                                           ("discriminator", objective.discriminator))}
        weights = build_image_masks(config.masks).sample(16, config.feature_size, rng)
        batch = (torch.rand(32, 3, size, size) * 2 - 1, weights, weights, torch.tensor(0))  # D reuses the masks
    if channels_last:
        to_channels_last(objective, optimizers.values())
        batch = tuple(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in batch)
    step = type(objective).step
    for _ in range(3):
        step(objective, optimizers, *batch)
    started = time.perf_counter()
    for _ in range(steps):
        step(objective, optimizers, *batch)
    return (time.perf_counter() - started) / steps


def child(args: argparse.Namespace) -> None:
    seconds = time_step(args.network, args.precision, args.channels_last, args.steps)
    print(json.dumps({"seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every configuration (default 3)")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per run (default: 40 / 10 generator)")
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"default: {','.join(NETWORKS)}")
    parser.add_argument("--isa", action="append", default=[], metavar="ONEDNN_ISA",
                        help="also time with oneDNN limited to this instruction set, e.g. AVX512_CORE, AVX2")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--network", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    configurations = [(network, isa, precision, layout)
                      for network in args.networks.split(",") for isa in [None, *args.isa]
                      for precision in ("fp32", "bf16") for layout in (False, True)]
    times: dict[tuple[Any, ...], list[float]] = {configuration: [] for configuration in configurations}
    for round_ in range(args.rounds):
        for network, isa, precision, layout in configurations:
            steps = args.steps or (40 if network == "wrn-16-2" else 10)
            command = [sys.executable, __file__, "--child", "--network", network, "--precision", precision,
                       "--steps", str(steps), *(["--channels-last"] if layout else [])]
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            if isa:
                env["ONEDNN_MAX_CPU_ISA"] = isa
            output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            times[network, isa, precision, layout].append(json.loads(output.splitlines()[-1])["seconds"])
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"{'network':16s} {'oneDNN ISA':12s} {'precision':9s} {'layout':13s} {'ms/step':>9s} {'vs fp32 NCHW':>13s}")
    for network, isa, precision, layout in configurations:
        median = statistics.median(times[network, isa, precision, layout])
        reference = statistics.median(times[network, isa, "fp32", False])
        print(f"{network:16s} {isa or 'native':12s} {precision:9s} {'channels-last' if layout else 'NCHW':13s} "
              f"{1000 * median:9.1f} {reference / median:12.2f}x")
    import torch

    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, native bf16: "
          f"{torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()}, {args.rounds} rounds, "
          "median per configuration, one thread")


if __name__ == "__main__":
    main()
