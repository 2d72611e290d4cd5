"""The paper's published accuracies (Tables 1-4) as package data, for ``chimeramix table --compare paper``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

PAPER_DATASET: dict[str, str] = {
    "cifar10": "cifair10",
    "cifair10": "cifair10",
    "cifar100": "cifair100",
    "cifair100": "cifair100",
    "stl10": "stl10",
}
"""Our dataset name -> the paper's column it is compared with (CIFAR is compared with ciFAIR)."""


@dataclass(frozen=True)
class PaperValue:
    """One published cell: mean and standard deviation of the test accuracy (percent) over 5 splits."""

    mean: float
    std: float
    tables: tuple[str, ...]
    """The paper's tables that print this row ("1" .. "4")."""


@cache
def _load() -> dict[str, Any]:
    text = resources.files("chimeramix.experiments").joinpath("paper_results.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def paper_value(dataset: str, method: str, k: int) -> PaperValue | None:
    """The paper's cell for our ``dataset`` (see :data:`PAPER_DATASET`), ``method`` and ``k``, if any."""
    data = _load()
    paper_dataset = PAPER_DATASET.get(dataset)
    if paper_dataset is None:
        return None
    cell = data["results"].get(paper_dataset, {}).get(method, {}).get(str(k))
    if cell is None:
        return None
    tables = tuple(data["tables"][paper_dataset][method])
    return PaperValue(mean=float(cell[0]), std=float(cell[1]), tables=tables)

