"""FID and KID of generated images against the full training set (paper Fig. 4, Sec. 4.5).

For each generator run: N generated images (:mod:`chimeramix.analysis.generated`) and the cached features of
the full training set of its dataset (:mod:`chimeramix.analysis.reference`), both from one feature extractor;
torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` compute the distances from these
features (their ``feature`` module passes precomputed features through). One analysis uses one extractor, so
its JSON and bar plot never mix Inception with classifier numbers.
"""

from __future__ import annotations

import os
import textwrap
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from chimeramix.analysis.features import FeatureExtractor
from chimeramix.analysis.generated import generate, generator_run
from chimeramix.analysis.reference import Reference, reference_features
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_path

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
"""torchmetrics' defaults: the mean (and std) of the unbiased MMD^2 over 100 random subsets of 1000 features of
each set (fewer when a set is smaller)."""
UPDATE_ROWS = 5000
"""Features passed to a metric at once (torchmetrics holds them in float64 while it accumulates)."""


class GivenFeatures(nn.Module):
    """The ``feature`` module of torchmetrics' metrics for features extracted beforehand."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class Distances:
    """FID and KID of feature sets against one reference set (its statistics accumulated once)."""

    def __init__(self, reference: torch.Tensor, seed: int) -> None:
        try:
            from torchmetrics.image.fid import FrechetInceptionDistance
            from torchmetrics.image.kid import KernelInceptionDistance
        except ImportError:
            raise ChimeraMixError("FID and KID need torchmetrics: pip install 'chimeramix[analysis]'") from None
        dim = reference.shape[1]
        self.seed = seed
        self.subset_size = min(KID_SUBSET_SIZE, len(reference))
        self.fid = FrechetInceptionDistance(feature=GivenFeatures(dim), reset_real_features=False)
        with warnings.catch_warnings():  # that KID keeps every feature is the point: they are in memory already
            warnings.filterwarnings("ignore", message=".*will save all extracted features", category=UserWarning)
            self.kid = KernelInceptionDistance(feature=GivenFeatures(dim), subsets=KID_SUBSETS,
                                               subset_size=self.subset_size, reset_real_features=False)
        for metric in (self.fid, self.kid):
            for rows in reference.split(UPDATE_ROWS):
                metric.update(rows, real=True)

    def __call__(self, generated: torch.Tensor) -> dict[str, float | int]:
        """``fid``, ``kid_mean``, ``kid_std`` (and the KID subset size) of ``generated`` (N x d, N >= 2)."""
        subset = min(self.subset_size, len(generated))
        self.kid.subset_size = subset
        for metric in (self.fid, self.kid):
            metric.reset()
            for rows in generated.split(UPDATE_ROWS):
                metric.update(rows, real=False)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)  # KID draws its subsets from the global generator
            kid_mean, kid_std = self.kid.compute()
        return {"fid": float(self.fid.compute()), "kid_mean": float(kid_mean), "kid_std": float(kid_std),
                "kid_subset_size": subset}


def fid_analysis(run_dirs: Sequence[str | os.PathLike[str]], extractor: FeatureExtractor, *, count: int | None,
                 seed: int, device: torch.device, data_root: str | None = None, cache_folder: Path | None = None,
                 batch_size: int = 100) -> dict[str, Any]:
    """FID and KID of every run's generated images against its dataset's full training set; the JSON-ready
    result (features, references, one row per run)."""
    runs = [generator_run(run_dir) for run_dir in run_dirs]
    for run in runs:
        extractor.check_dataset(run.data.dataset, str(run.path))
    references: dict[str, tuple[Reference, Distances]] = {}
    rows = []
    for run in runs:
        started = time.perf_counter()
        dataset = run.data.dataset
        if dataset not in references:
            reference = reference_features(dataset, extractor, data_root=data_root or run.data.data_root,
                                           folder_image_size=run.data.folder_image_size,
                                           cache_folder=cache_folder, batch_size=batch_size)
            references[dataset] = reference, Distances(reference.features, seed)
        images, _ = generate(run, count, seed, device, data_root=data_root)
        scores = references[dataset][1](extractor(images, batch_size))
        rows.append({**run.describe(), "images": len(images), **scores,
                     "seconds": round(time.perf_counter() - started, 1)})
    return {"features": extractor.describe(), "seed": seed, "runs": rows,
            "references": {name: {"images": len(reference.features), "cache": str(reference.cache)}
                           for name, (reference, _) in references.items()}}


def plot_fid(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """A bar plot like Fig. 4: groups by dataset and k, one bar per method (mean over seeds, ± sample std)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups: dict[str, dict[str, list[float]]] = {}
    for row in result["runs"]:
        group = groups.setdefault(f"{row['dataset']}, k = {row['k']}", {})
        group.setdefault(row["method"], []).append(row["fid"])
    methods = sorted({method for group in groups.values() for method in group})
    figure = Figure(figsize=(max(6.5, 1.6 * len(groups) * len(methods)), 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    width = 0.8 / len(methods)
    for index, method in enumerate(methods):
        values = [groups[name].get(method, []) for name in groups]
        means = [float(np.mean(v)) if v else np.nan for v in values]
        stds = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in values]
        positions = np.arange(len(groups)) + (index - (len(methods) - 1) / 2) * width
        bars = ax.bar(positions, means, width, yerr=stds if any(stds) else None, capsize=3, label=method)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(np.arange(len(groups)), list(groups))
    ax.set_ylabel("FID (lower is better)")
    features = result["features"]
    kind = "Inception features" if features["kind"] == "inception" else "classifier features, NOT Inception"
    ax.set_title(f"FID to the full training set ({kind})\n" + textwrap.fill(features["label"], 100), fontsize=8)
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
