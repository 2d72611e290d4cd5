"""The cosine loss's own settings (its section of the classifier config, :data:`SECTION`) and its option of
``chimeramix classifier train``. No PyTorch here: the hooks (:mod:`.hooks`) import this module when the registry
first asks for them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

SECTION = "cosine-loss"
"""The section of the classifier config (and of ``config.json``) that holds :class:`CosineSettings`."""


@dataclass
class CosineSettings:
    """The cosine loss of Barz & Denzler (2020)."""

    with_ce: bool = False
    """Add the cross-entropy term of their combined loss (``--cosine-with-ce``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cosine loss (--method cosine-loss)")
    group.add_argument("--cosine-with-ce", action="store_true",
                       help="add the cross-entropy term of the combined loss")


def from_arguments(args: argparse.Namespace) -> dict[str, Any] | None:
    """The section ``--cosine-with-ce`` gives (``None``: not given)."""
    return {"with_ce": True} if args.cosine_with_ce else None
