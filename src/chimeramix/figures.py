"""Figures of a classifier run for its report: the confusion matrix and the loss curve, as PNG bytes.

Matplotlib draws off-screen (the Agg canvas, no display needed); it is imported when a figure is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> Figure:
    """An off-screen figure of ``width`` x ``height`` inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def picture_png(picture: np.ndarray) -> bytes:
    """A uint8 H x W x 3 picture as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def confusion_figure(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> Figure:
    """The confusion matrix (rows: true class, columns: predicted class) as a heat map with its counts."""
    counts = np.asarray(confusion, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    shares = counts / np.maximum(rows, 1)
    side = min(2.5 + 0.45 * len(classes), 12)
    figure = new_figure(side + 1, side)
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix (counts)")
    if len(classes) <= 30:
        for (i, j), value in np.ndenumerate(counts):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if shares[i, j] > 0.5 else "black")
    figure.colorbar(image, ax=ax, fraction=0.046)
    return figure


def loss_figure(log: Sequence[dict[str, Any]]) -> Figure:
    """Training loss per epoch (and, where the log has them, the curve-only test accuracies)."""
    figure = new_figure(6, 3.5)
    ax = figure.subplots()
    epochs = [int(row["epoch"]) for row in log]
    ax.plot(epochs, [float(row["loss"]) for row in log], marker="o", label="training loss (epoch mean)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    tested = [(int(row["epoch"]), float(row["test_accuracy"])) for row in log if row.get("test_accuracy") is not None]
    if tested:
        other = ax.twinx()
        other.plot(*zip(*tested), color="tab:orange", marker="s", label="test accuracy (curve only)")
        other.set_ylabel("test accuracy")
    ax.set_title("training loss")
    ax.legend(loc="upper right")
    return figure
