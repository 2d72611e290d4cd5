"""``chimeramix report``: one self-contained HTML page for a finished classifier run or a results store.

A run's page: the test accuracy with its 95 % Wilson interval, the macro accuracy, the per-class
accuracies, the data's warnings, the confusion matrix, the loss curve, the training images, the generator's
pictures (compositions of a ChimeraMix generator, or those of another generating first run) and the test images
the model got most wrong (misclassified, most confident first). A store's page: the methods x k table (mean ±
sample std over seeds or folds), the best method of each column, and the accuracy-vs-k plot. Pictures are embedded as
base64 PNG, so the page is one file that opens anywhere. Numbers carry ``data-metric`` / ``data-value``
attributes and figures ``data-figure`` names, for programs (and tests) that read the page.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from chimeramix.bundle import bundle_folder
from chimeramix.components.registry import component_of, parse_method
from chimeramix.config import ClassifierConfig, from_dict
from chimeramix.data import load_data_split, split
from chimeramix.data.folder_scan import locate_folder
from chimeramix.experiments.plots import accuracy_figure
from chimeramix.experiments.store import Store
from chimeramix.experiments.table_text import cell_text, preset_text, table_presets, table_title
from chimeramix.experiments.tables import build_tables, load_results
from chimeramix.figures import confusion_figure, figure_png, loss_figure, picture_png
from chimeramix.fileio import atomic_write
from chimeramix.predictor import load_classifier
from chimeramix.rundir import RunFolder
from chimeramix.uncertainty import FEW_TEST_IMAGES
from chimeramix.viz import image_grid

REPORT_FILE = "report.html"
MOST_WRONG = 16
"""How many misclassified test images the page shows."""
TRAINING_IMAGES_PER_CLASS = 10
GENERATOR_PICTURES = ("compositions", "interpolations")
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:40em}.warn{color:#a05000}.big{font-size:1.6em}
.wrong figure{margin:.2em}.wrong img{image-rendering:pixelated}"""


def write_report(source: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 data_folder: str | os.PathLike[str] | None = None) -> Path:
    """Write the page of a classifier run folder or a results store (``source``) to ``out`` (default:
    ``report.html`` in ``source``); returns its path. ``data_folder``: where a run's image folder is now, if it
    moved (:func:`chimeramix.data.folder_scan.locate_folder`)."""
    source = Path(source)
    page = store_page(Store.open(source)) if (source / "store.json").is_file() else run_page(source, data_folder)
    target = Path(out) if out is not None else source / REPORT_FILE
    atomic_write(target, lambda handle: handle.write(page.encode()))
    return target


def document(title: str, body: list[str]) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(body)
            + "\n</body></html>\n")


def figure(name: str, png: bytes, caption: str) -> str:
    """An embedded PNG with its caption, named by ``data-figure``."""
    data = base64.b64encode(png).decode()
    return (f'<figure data-figure="{name}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def metric(name: str, value: float | int | None, text: str) -> str:
    """A table cell that shows ``text`` and carries the exact ``value`` of ``result.json``."""
    return f'<td data-metric="{name}" data-value="{value!r}">{html.escape(text)}</td>'


def percent(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.2f} %"


# --------------------------------------------------------------------------------------------------- a run


def run_page(run: Path, data_folder: str | os.PathLike[str] | None = None) -> str:
    """The page of a finished classifier run (see the module docstring)."""
    bundle_folder(run, data_folder)  # refuses anything but a finished classifier run, with the fix
    result = RunFolder(run).read_result()
    config = from_dict(ClassifierConfig, result["config"])
    config = replace(config, data=locate_folder(config.data, data_folder))
    metrics = result["metrics"]
    classifier = load_classifier(run)
    test = load_data_split(config.data, "test")
    probabilities = classifier.predict_pixels(test.images).probabilities
    title = (f"{result['method']} on {config.data.dataset} (k = {config.data.k}, seed {config.data.seed}, "
             f"{config.preset} preset)")
    body = [*summary_section(metrics, result.get("data_notes", [])),
            *per_class_section(metrics, classifier.classes),
            "<h2>Where it goes wrong</h2>",
            figure("confusion-matrix", figure_png(confusion_figure(metrics["confusion_matrix"], classifier.classes)),
                   "Confusion matrix of the test split: rows are the true classes, columns the predictions; "
                   "the colour is the share of the row's images."),
            *most_wrong_section(test.images, test.labels, probabilities, classifier.classes),
            "<h2>Training</h2>",
            figure("loss-curve", figure_png(loss_figure(result["log"])),
                   f"Training loss per epoch ({result['steps']} steps, {result['wall_seconds']:.0f} s)."),
            *training_images_section(config),
            *generator_section(config, run),
            *method_pictures_section(config.method, RunFolder(run)),
            f"<p>Run folder: <code>{html.escape(str(run))}</code>; architecture {html.escape(str(config.architecture))}"
            f", {result['epochs']} epochs; the numbers are those of <code>result.json</code>.</p>"]
    return document(title, body)


def summary_section(metrics: dict[str, Any], notes: list[str]) -> list[str]:
    n = int(metrics["num_test_images"])
    low, high = metrics.get("accuracy_interval") or (math.nan, math.nan)
    lines = ["<h2>Test accuracy</h2>", "<table><tr><th>measure</th><th>value</th></tr>",
             f"<tr><td>accuracy</td>{metric('accuracy', metrics['accuracy'], percent(metrics['accuracy']))}</tr>",
             f"<tr><td>95 % Wilson interval, low</td>{metric('accuracy_low', low, percent(low))}</tr>",
             f"<tr><td>95 % Wilson interval, high</td>{metric('accuracy_high', high, percent(high))}</tr>",
             f"<tr><td>macro accuracy (mean over classes with test images)</td>"
             f"{metric('macro_accuracy', metrics['macro_accuracy'], percent(metrics['macro_accuracy']))}</tr>",
             f"<tr><td>test images</td>{metric('num_test_images', n, str(n))}</tr></table>"]
    if n < FEW_TEST_IMAGES and not notes:  # folder datasets say it in their notes
        lines.append(f'<p class="warn">Only {n} test images: one image is {100 / max(n, 1):.1f} points of '
                     "accuracy, so the accuracy is uncertain (see the interval).</p>")
    lines += [f'<p class="warn">{html.escape(note)}</p>' for note in notes]
    return lines


def per_class_section(metrics: dict[str, Any], classes: tuple[str, ...]) -> list[str]:
    support = np.asarray(metrics["confusion_matrix"]).sum(axis=1)
    rows = ["<h2>Per class</h2>", "<table><tr><th>class</th><th>test images</th><th>accuracy</th></tr>"]
    for name, count, value in zip(classes, support, metrics["per_class_accuracy"]):
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{int(count)}</td>"
                    f"{metric('per_class_accuracy', value, percent(value))}</tr>")
    return [*rows, "</table>"]


def most_wrong_section(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                       classes: tuple[str, ...]) -> list[str]:
    """The misclassified test images, the most confident mistakes first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    if not len(wrong):
        return ['<p data-figure="most-wrong">Every test image was classified correctly.</p>']
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:MOST_WRONG]
    scale = max(1, 64 // images.shape[1])
    tiles = [figure(f"wrong-{i}", picture_png(image_grid([images[i : i + 1]], scale=scale, pad=0)),
                    f"true {classes[labels[i]]}, predicted {classes[predicted[i]]} "
                    f"({probabilities[i, predicted[i]]:.2f})") for i in order]
    return [f"<h3>The {len(order)} most confident mistakes (of {len(wrong)})</h3>",
            f'<div class="wrong" data-figure="most-wrong">{"".join(tiles)}</div>']


def training_images_section(config: ClassifierConfig) -> list[str]:
    train = load_data_split(config.data, "train")
    chosen = split(train, config.data.k, config.data.seed)
    rows = [train.take(indices[:TRAINING_IMAGES_PER_CLASS]) for indices in chosen.per_class]
    scale = max(1, 64 // train.image_size[0])
    names = ", ".join(train.classes)
    return [figure("training-images", picture_png(image_grid(rows, scale=scale)),
                   f"Training images, one row per class ({names}); up to {TRAINING_IMAGES_PER_CLASS} of the k = "
                   f"{config.data.k} per class.")]


def generator_section(config: ClassifierConfig, run: Path) -> list[str]:
    """The pictures of the method's generator run, when it has one (a relative path, as ``run --out DIR``
    records it, is found beside the classifier run from any working directory)."""
    if config.generator is None:
        return []
    folder = RunFolder(config.generator)
    if not folder.path.is_dir():
        folder = RunFolder(run.parent / folder.path.name)
    found = [(name, folder.picture(name)) for name in GENERATOR_PICTURES if folder.picture(name).is_file()]
    return ["<h2>The generator's pictures</h2>"] + [
        figure(f"generator-{name}", path.read_bytes(), f"{name} of the generator run {folder.path} "
               "(rows: two training images, then compositions of them)" if name == "compositions" else
               f"{name} of the first run {folder.path}") for name, path in found]


def method_pictures_section(method: str, folder: RunFolder) -> list[str]:
    """The pictures the method's components declare (:attr:`~chimeramix.components.entry.Component.pictures`)
    that the run folder has, under each component's heading."""
    lines: list[str] = []
    for name in parse_method(method).components:
        found = [picture for picture in component_of(name).pictures if folder.picture(picture.name).is_file()]
        for heading in dict.fromkeys(picture.heading for picture in found):
            lines.append(f"<h2>{html.escape(heading)}</h2>")
            lines += [figure(picture.name, folder.picture(picture.name).read_bytes(), picture.caption)
                      for picture in found if picture.heading == heading]
    return lines


# ------------------------------------------------------------------------------------------------- a store


def store_page(store: Store) -> str:
    """The page of a results store: the methods x k tables (each cell with its test images and interval), the
    best method per column, the plot."""
    tables = build_tables(load_results(store))
    body = ["<p>Cells: test accuracy (%), mean ± sample standard deviation (ddof=1) over the seeds (or folds) "
            "that finished, n runs per cell; below it the 95 % Wilson interval on the test images (over every "
            "image of the folds of a cross-validation, else of the mean on the one test set of the seeds).</p>"]
    for table in tables:
        body += [f"<h2>{html.escape(table_title(table))}</h2>",
                 f"<p>Runs of {html.escape(' and '.join(preset_text(p) for p in table_presets(table)))}.</p>",
                 "<table><tr><th>method</th>" + "".join(f"<th>k = {k}</th>" for k in table.ks) + "</tr>"]
        for method in table.methods:
            cells = []
            for k in table.ks:
                cell = table.cells.get((method, k))
                if cell is None:
                    cells.append("<td>–</td>")
                    continue
                cells.append(metric(f"{method}@{k}", cell.mean, cell_text(cell)).replace(
                    "</td>", f"<br><small>{html.escape(cell.uncertainty_text())}</small></td>"))
            body.append(f"<tr><td>{html.escape(method)}</td>{''.join(cells)}</tr>")
        body.append("</table>")
        for k in table.ks:
            best = max((m for m in table.methods if (m, k) in table.cells), key=lambda m: table.cells[m, k].mean)
            cell = table.cells[best, k]
            body.append(f'<p data-best="{html.escape(best)}@{k}">Best at k = {k}: <b>{html.escape(best)}</b> '
                        f"({html.escape(cell_text(cell, unit=' %'))}; {html.escape(cell.uncertainty_text())}).</p>")
    body.append(figure("accuracy-vs-k", figure_png(accuracy_figure(tables)),
                       "Test accuracy against k, one line per method with a ± std band (clipped to 0-100 %)."))
    return document(f"Results store {store.root}", body)
