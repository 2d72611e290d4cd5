"""What chimeramix asks of the example's components: of the ``pooled`` front end its settings (the config section
``pooled``: the pooling kernel), how they resolve, its command-line option, and its network ``pooled-wrn-W``; of
``half-swap`` its pair mixing; of ``smooth-ce`` its criterion. No PyTorch here: the network, the mixing and the loss
are built by :mod:`chimeramix_example_method.front_end`, ``.mixing`` and ``.loss``, loaded when a run trains."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

from chimeramix.config import ClassifierConfig, protocol_for, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.methods import ComponentHooks, FrontEnd

SECTION = "pooled"


@dataclass
class PooledSettings:
    """The front end: average pooling over ``kernel`` x ``kernel`` pixels before the WideResNet."""

    kernel: int = 2


def resolve(config: ClassifierConfig, settings: PooledSettings) -> ClassifierConfig:
    """Refuse a kernel that does not divide the images; keep the settings in full in the config."""
    size = protocol_for(config.data).image_size
    if settings.kernel < 1 or size % settings.kernel:
        raise ChimeraMixError(f"pooled.kernel must divide the image side {size}, got {settings.kernel}; "
                              "use e.g. --pooled-kernel 2")
    return replace(config, method_settings={**config.method_settings, SECTION: to_dict(settings)})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pooled front end (--method pooled, an example plug-in)")
    group.add_argument("--pooled-kernel", type=int, metavar="K", help="average pooling over K x K pixels (2)")


def from_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    return {"kernel": args.pooled_kernel} if args.pooled_kernel is not None else None


HOOKS = ComponentHooks(
    section=SECTION,
    settings=PooledSettings,
    resolve=resolve,
    add_arguments=add_arguments,
    from_arguments=from_arguments,
    front_end=FrontEnd("pooled-wrn-{width}", "chimeramix_example_method.front_end:build", {"paper": 8, "quick": 2}),
)
"""The hooks of ``pooled``."""

HALF_SWAP_HOOKS = ComponentHooks(pair_mixing="chimeramix_example_method.mixing:half_swap")
"""The hooks of ``half-swap``: its compositions of same-class pairs."""

SMOOTH_CE_HOOKS = ComponentHooks(criterion="chimeramix_example_method.loss:smoothed_cross_entropy")
"""The hooks of ``smooth-ce``: its loss."""
