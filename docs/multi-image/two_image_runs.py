"""Tiny two-image generator and classifier runs on real CIFAR-10 (k = 2, one epoch, one thread), to compare
their weights byte for byte between two commits (see README.md here).

    python docs/multi-image/two_image_runs.py OUT
"""

from __future__ import annotations

import sys

import torch

from chimeramix.classifier.trainer import train_classifier
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator

GENERATORS = [(kind, recipe) for kind in ("grid", "seg") for recipe in ("paper", "released")]
CLASSIFIERS = [("gridmix", "paper", None), ("segmix", "released", None), ("chimeramix-grid", "paper", "grid-paper"),
               ("chimeramix-seg", "released", "seg-released"), ("chimeramix-seg+autoaugment", "paper", "seg-paper")]


def main(out: str) -> None:
    torch.set_num_threads(1)
    data = DataConfig("cifar10", k=2, seed=0)
    for kind, recipe in GENERATORS:
        config = GeneratorConfig(data=data, masks=MaskConfig(kind=kind), recipe=recipe, epochs=1, repetition=6,
                                 batch_size=4, base_channels=4, device="cpu", checkpoint_every=1)
        result = train_generator(config, f"{out}/{kind}-{recipe}", progress=False)
        print(f"generator {kind} {recipe}: final rec {result['final']['rec']:.6f}")
    for method, recipe, generator in CLASSIFIERS:
        config = ClassifierConfig(data=data, method=method, recipe=recipe, architecture="wrn-10-1", epochs=1,
                                  repetition=8, batch_size=4, device="cpu", pair_mixing_p=0.9,
                                  generator=f"{out}/{generator}" if generator else None)
        result = train_classifier(config, f"{out}/{method}-{recipe}", progress=False)
        print(f"classifier {method} {recipe}: accuracy {result['metrics']['accuracy']:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
