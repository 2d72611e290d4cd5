"""The settings of the scattering front end (the config section ``scattering``), how they resolve, PSN's own
training recipe, and their command-line options. Imports no PyTorch (the command line and the plans read it).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from chimeramix.components.entry import Role
from chimeramix.components.registry import Method, parse_method
from chimeramix.config import ClassifierConfig, to_dict, unset_values
from chimeramix.errors import ChimeraMixError

if TYPE_CHECKING:
    import torch

FilterInit = Literal["tight-frame", "random"]
ScatteringRecipe = Literal["protocol", "psn"]
SECTION = "scattering"


@dataclass
class ScatteringConfig:
    """The scattering front end of the methods ``scattering`` and ``scattering-fixed`` (Parametric Scattering
    Networks; ``shared/docs/baselines.md`` section 1): J = 2, L = 8, order 2."""

    init: FilterInit = "tight-frame"
    """The wavelets' initialisation: kymatio's tight frame, or PSN's random one."""
    recipe: ScatteringRecipe = "protocol"
    """``protocol``: this project's classifier protocol, so that only the network differs from the baseline
    (the paper's Scattering rows); ``psn``: PSN's own training (:data:`PSN_CLASSIFIER`): SGD (no Nesterov), batch
    128, OneCycle to ``lr`` = 0.1 per step, weight decay 5e-4, AutoAugment + Cutout 16 added to the method, and
    PSN's epochs (3000 for k <= 10, 2000 for k <= 50, 1000 for k <= 100, else 500) as passes over the subset."""


PSN_CLASSIFIER = {"batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "cutout_size": 16}
"""PSN's own classifier training (``recipe = "psn"``) for the unset fields; ``lr`` is OneCycle's peak (start
``lr / 25``); the weight decay spares the wavelet parameters in every recipe. PSN's SGD has plain momentum
(``nesterov`` off)."""


def psn_epochs(k: int) -> int:
    """PSN's epochs over the training subset for k images per class (its CIFAR-10 scripts: 3000 for 100
    samples, 2000 for 500, 1000 for 1000; 500 for more)."""
    return 3000 if k <= 10 else 2000 if k <= 50 else 1000 if k <= 100 else 500


def psn_augmentation(method: Method) -> Method:
    """``method`` with PSN's augmentation added: AutoAugment and Cutout (another policy or erasing is refused)."""
    additions: tuple[tuple[Role, str], ...] = (("policy", "autoaugment"), ("erasing", "cutout"))
    for role, name in additions:
        present = method.component(role)
        if present not in (None, name):
            raise ChimeraMixError(f"the scattering recipe psn trains with AutoAugment and Cutout, not {present}; "
                                  f"drop {present} from the method, or use the protocol recipe")
    return parse_method("+".join({*method.components, *(name for _, name in additions)}))


def resolve_scattering(config: ClassifierConfig, settings: ScatteringConfig) -> ClassifierConfig:
    """The front end's settings in full and, under PSN's recipe, PSN's augmentation added to the method and its
    values for the unset fields (its epochs as repetitions of the subset within ``epochs``)."""
    config = replace(config, method_settings={**config.method_settings, SECTION: to_dict(settings)})
    if settings.recipe != "psn":
        return config
    if config.fast:
        raise ChimeraMixError("the scattering recipe psn cycles SGD's momentum (OneCycle), which the fast path's "
                              "CUDA graphs would freeze at capture; drop --fast for it")
    k = config.data.k
    repetition = config.repetition or k * max(1, round(psn_epochs(k) / config.epochs))
    return replace(config, method=psn_augmentation(parse_method(config.method)).name,
                   **{**unset_values(config, PSN_CLASSIFIER), "nesterov": False, "repetition": repetition})


def one_cycle(config: ClassifierConfig, optimizer: torch.optim.Optimizer, total_steps: int
              ) -> torch.optim.lr_scheduler.LRScheduler | None:
    """PSN's OneCycle per step under the recipe ``psn`` (from ``lr / 25`` up to ``lr``); ``None`` otherwise."""
    import torch  # when a run trains

    if (config.method_settings.get(SECTION) or {}).get("recipe") != "psn":
        return None
    assert config.lr is not None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps,
                                               div_factor=25)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Parametric Scattering (--method scattering, scattering-fixed)")
    group.add_argument("--scattering-init", choices=("tight-frame", "random"), default=None,
                       help="the wavelets' initialisation (default tight-frame)")
    group.add_argument("--scattering-recipe", choices=("protocol", "psn"), default=None,
                       help="this project's protocol (default) or PSN's own training (OneCycle, batch 128, "
                            "AutoAugment + Cutout; see README)")


def from_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    """The section ``--scattering-init`` and ``--scattering-recipe`` give (``None``: neither given)."""
    if not (args.scattering_init or args.scattering_recipe):
        return None
    return to_dict(ScatteringConfig(init=args.scattering_init or "tight-frame",
                                    recipe=args.scattering_recipe or "protocol"))


def table_variant(section: Mapping[str, Any]) -> str:
    """Runs whose wavelets started random get rows of their own (``random init``)."""
    return "random init" if section.get("init") == "random" else ""
