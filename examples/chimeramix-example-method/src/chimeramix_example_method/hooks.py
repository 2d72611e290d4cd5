"""What chimeramix asks of the example's components: of the ``pooled`` front end its settings (the config section
``pooled``: the pooling kernel), how they resolve, its command-line option, and its network ``pooled-wrn-W``; of
``half-swap`` its pair mixing; of ``smooth-ce`` its criterion; of ``latent-mix`` the kind of its first run (an
autoencoder) and its compositions. No PyTorch here: the network, the mixing, the loss and the trainer are built by
:mod:`chimeramix_example_method.front_end`, ``.mixing``, ``.loss`` and ``.latent_trainer``, loaded when a run
trains."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

from chimeramix.config import ClassifierConfig, protocol_for, to_dict
from chimeramix.errors import ChimeraMixError
from chimeramix.methods import ComponentHooks, Composing, FrontEnd, RunBudget, RunKind
from chimeramix_example_method import latent_settings

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

TRAINER = "chimeramix_example_method.latent_trainer"
AUTOENCODER = RunKind(
    latent_settings.AutoencoderConfig, latent_settings.resolve, f"{TRAINER}:open_autoencoder_run",
    f"{TRAINER}:pack_key", latent_settings.cost_part, lambda config: "autoencoder", "latent-mix autoencoders",
    {"cpu": 10.0, "cuda": 15.0},
    Composing(title="latent-mix autoencoder", method_label="latent-mix", composer=f"{TRAINER}:latent_mix",
              sampler=f"{TRAINER}:sample_picture",
              sample_rows="rows of x_i, decoded mixes of its code with a same-class x_j's (weights 0 .. 1), then x_j",
              add_arguments=latent_settings.add_arguments, from_arguments=latent_settings.from_arguments,
              summary=latent_settings.summary),
    budget=RunBudget(latent_settings.BUDGET_FIELDS, latent_settings.budget_summary))
"""``latent-mix``'s first run: an autoencoder fitted to the split (run folders ``autoencoder-...``)."""

LATENT_MIX_HOOKS = ComponentHooks(
    run_kind=AUTOENCODER,
    first_run_config=latent_settings.stage_one_config,
    check="chimeramix.methods.frozen_run:check_first_run",
    pair_mixing="chimeramix.methods.frozen_run:frozen_pair_mixing",
    step_seconds={"cpu": {"autoencoder": 0.05}, "cuda": {"autoencoder": 0.002}},
)
"""The hooks of ``latent-mix``: the kind of its first run, how a classifier checks and composes with it (the core's
functions for a generating first run: they read the kind's config class and ``Composing.composer``), and a rough
step cost for estimates until this machine has measured one."""
