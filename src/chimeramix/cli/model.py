"""``chimeramix predict``, ``chimeramix export`` and ``chimeramix report``: using a finished classifier run."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_write

EXPORT_FORMATS = ("onnx", "torchscript")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    predict = subparsers.add_parser(
        "predict", help="classify images with a finished classifier run",
        description="Classify image files (and every image in the given folders) with a finished classifier "
                    "run, prepared as its training images were; print a table, optionally write CSV / JSON. A "
                    "file that cannot be read is reported by name and the others are still classified (exit "
                    "code 1 when any could not be read).")
    predict.add_argument("run", type=Path, metavar="RUN", help="a finished classifier run folder (or its model/)")
    predict.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER", help="image files or folders of them")
    predict.add_argument("--tta", choices=("flip",), default=None,
                         help="flip: average the probabilities of each image and its mirror image")
    predict.add_argument("--top-k", type=int, default=3, metavar="K", help="classes listed per image (default 3)")
    predict.add_argument("--output", type=Path, action="append", default=[], metavar="FILE.csv|FILE.json",
                         help="also write the predictions as CSV or JSON (by the extension; repeatable)")
    predict.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    predict.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda, cuda:1, ...")
    add_data_folder_argument(predict)
    predict.set_defaults(handler=run_predict)

    export = subparsers.add_parser(
        "export", help="export a finished classifier run as one ONNX or TorchScript file",
        description="Write the run's classifier, with its normalisation and a softmax, as a file that runs "
                    "without chimeramix (input: float32 RGB in [0, 1], N x 3 x S x S; output: class "
                    "probabilities), and a FILE.md beside it that documents the preprocessing and the classes.")
    export.add_argument("run", type=Path, metavar="RUN", help="a finished classifier run folder (or its model/)")
    export.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    export.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write (default: RUN/model/model.onnx or model.torchscript.pt)")
    add_data_folder_argument(export)
    export.set_defaults(handler=run_export)

    report = subparsers.add_parser(
        "report", help="one self-contained HTML page of a classifier run or a results store",
        description="Write an HTML page (pictures embedded) of a finished classifier run (accuracy with its "
                    "95 % Wilson interval, per-class accuracy, confusion matrix, loss curve, training images, the "
                    "generator's pictures, the worst mistakes) or of a results store (methods x k with mean ± "
                    "std, the best method, the accuracy-vs-k plot).")
    report.add_argument("source", type=Path, metavar="RUN_OR_STORE", help="a classifier run folder or a store")
    report.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                        help="where to write (default: RUN_OR_STORE/report.html)")
    add_data_folder_argument(report)
    report.set_defaults(handler=run_report)


def add_data_folder_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-folder", type=Path, default=None, metavar="PATH",
                        help="where the run's image folder (folder:PATH dataset) is now, if it moved since the run")


def run_predict(args: argparse.Namespace) -> int:
    from chimeramix.predictor import image_files, load_classifier, read_files

    for path in args.output:
        if path.suffix.lower() not in (".csv", ".json"):
            raise ChimeraMixError(f"cannot write predictions to {path}: name a .csv or a .json file")
    if args.top_k < 1 or args.batch_size < 1:
        raise ChimeraMixError("--top-k and --batch-size must be at least 1")
    classifier = load_classifier(args.run, args.device, args.data_folder)
    files = image_files(args.images)
    if not files:
        raise ChimeraMixError(f"no files in {' '.join(args.images)}; pass image files or folders of them")
    pixels, errors = read_files(classifier, files)
    predictions = classifier.predict_pixels(pixels, tta=args.tta, batch_size=args.batch_size)
    rows, next_row = [], 0
    for path in files:
        row: dict[str, Any] = {"path": str(path), "predicted": None, "probability": None, "top": [],
                               "error": errors.get(path)}
        if path not in errors:
            top = predictions.top(next_row, min(args.top_k, len(classifier.classes)))
            row.update(predicted=top[0][0], probability=round(top[0][1], 6),
                       top=[{"class": name, "probability": round(p, 6)} for name, p in top])
            next_row += 1
        rows.append(row)
    print(prediction_table(rows))
    for path in args.output:
        write_text(path, json.dumps(rows, indent=2) + "\n" if path.suffix.lower() == ".json" else prediction_csv(rows))
        print(f"predictions: {path}")
    if errors:
        print(f"{len(errors)} of {len(files)} file(s) could not be read (marked ERROR above)")
    return 1 if errors else 0


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode()))


def run_export(args: argparse.Namespace) -> int:
    from chimeramix.export import export_classifier

    path = export_classifier(args.run, args.format, args.out, args.data_folder)
    print(f"exported {args.format}: {path} (inputs, outputs and preprocessing: {path}.md)")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from chimeramix.report import write_report

    print(f"report: {write_report(args.source, args.out, args.data_folder)}")
    return 0


def prediction_table(rows: list[dict[str, Any]]) -> str:
    """One line per file: path, predicted class, its probability, the top classes (or the error)."""
    width = min(max(len(row["path"]) for row in rows), 60)
    lines = [f"{'path':<{width}}  {'class':<16} {'prob':>6}  top classes"]
    for row in rows:
        path = row["path"]  # whole, even when longer than the column: files are reported by name
        if row["error"] is not None:
            lines.append(f"{path:<{width}}  ERROR: {row['error']}")
            continue
        top = ", ".join(f"{entry['class']} {entry['probability']:.3f}" for entry in row["top"])
        lines.append(f"{path:<{width}}  {row['predicted']:<16} {row['probability']:>6.3f}  {top}")
    return "\n".join(lines)


def prediction_csv(rows: list[dict[str, Any]]) -> str:
    """Columns path, predicted, probability, top (``class:probability`` joined by ``;``), error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "predicted", "probability", "top", "error"])
    for row in rows:
        top = ";".join(f"{entry['class']}:{entry['probability']:.6f}" for entry in row["top"])
        writer.writerow([row["path"], row["predicted"] or "", "" if row["probability"] is None else
                         f"{row['probability']:.6f}", top, row["error"] or ""])
    return out.getvalue()
