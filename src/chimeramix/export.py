"""A finished classifier run as one file that runs without chimeramix: ONNX or TorchScript.

The exported graph is :class:`~chimeramix.predictor.ProbabilityModel`: the run's normalisation, the classifier
and a softmax. Its input ``pixels`` is float32 RGB in [0, 1], N x 3 x S x S (any batch size N), prepared by the
resize rule of the bundle; its output ``probabilities`` is N x C in the order of the bundle's classes. A
``<file>.md`` beside the file (``model.onnx.md``) says all of this for the run (classes, size, rule) with an example.

ONNX uses PyTorch's exporter (``torch.onnx.export(..., dynamo=True)``, which needs ``onnx`` and
``onnxscript``: ``pip install 'chimeramix[onnx]'``); running the file needs only ``onnxruntime`` and NumPy.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from chimeramix.bundle import bundle_folder, open_bundle
from chimeramix.errors import ChimeraMixError
from chimeramix.fileio import atomic_path, atomic_write
from chimeramix.predictor import ProbabilityModel
from chimeramix.rundir import EXPORT_FILES

ONNX_OPSET = 18


def export_classifier(run: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str] | None = None,
                      data_folder: str | os.PathLike[str] | None = None) -> Path:
    """Export the classifier of a finished run (or bundle folder) as ``fmt`` (``onnx`` or ``torchscript``) to
    ``out`` (default: ``model/model.onnx`` or ``model/model.torchscript.pt`` of the run), with a README beside
    it (``<file>.md``); returns the file. ``data_folder``: as for :func:`chimeramix.predictor.load_classifier`."""
    if fmt not in EXPORT_FILES:
        raise ChimeraMixError(f"unknown export format {fmt!r}; use {' or '.join(EXPORT_FILES)}")
    manifest, model = open_bundle(run, data_folder)
    preprocessing = manifest["preprocessing"]
    module = ProbabilityModel(model, preprocessing["mean"], preprocessing["std"]).eval()
    size = int(preprocessing["image_size"])
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    target = Path(out) if out is not None else bundle_folder(run) / EXPORT_FILES[fmt]
    unsupported = getattr(model, "onnx_unsupported", None)  # a network that ONNX cannot hold says why
    if fmt == "onnx" and unsupported:
        raise ChimeraMixError(unsupported)
    with atomic_path(target) as tmp:
        if fmt == "onnx":
            _export_onnx(module, example, tmp)
        else:
            _export_torchscript(module, example, tmp)
    text = readme(manifest, fmt, target.name)
    atomic_write(target.with_name(target.name + ".md"), lambda handle: handle.write(text.encode()))
    return target


def _export_onnx(module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs it and onnxscript)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ChimeraMixError("ONNX export needs the onnx and onnxscript packages; install them with "
                              "`pip install 'chimeramix[onnx]'`") from None
    with torch.inference_mode(False), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        torch.onnx.export(module, (example,), str(path), input_names=["pixels"], output_names=["probabilities"],
                          dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, external_data=False,
                          opset_version=ONNX_OPSET, verbose=False)


def _export_torchscript(module: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recent PyTorch deprecates TorchScript, which still works (2.11-2.14)
        traced = torch.jit.trace(module, example)
        torch.jit.save(traced, str(path))


def readme(manifest: dict[str, Any], fmt: str, name: str) -> str:
    """What the exported file expects and returns, for this run."""
    pre = manifest["preprocessing"]
    size = pre["image_size"]
    classes = ", ".join(f"{i}: {c}" for i, c in enumerate(manifest["classes"]))
    if fmt == "onnx":
        example = ["import numpy as np, onnxruntime", "from PIL import Image, ImageOps", "",
                   f'session = onnxruntime.InferenceSession("{name}", providers=["CPUExecutionProvider"])',
                   'image = ImageOps.exif_transpose(Image.open("photo.jpg")).convert("RGB")',
                   f"image = ImageOps.fit(image, ({size}, {size}), Image.Resampling.BICUBIC)",
                   "pixels = (np.asarray(image, dtype=np.float32) / 255).transpose(2, 0, 1)[None]",
                   'probabilities = session.run(["probabilities"], {"pixels": pixels})[0]']
    else:
        example = ["import torch", f'model = torch.jit.load("{name}")  # TorchScript: deprecated by recent '
                   "PyTorch, still loads (2.11-2.14)", "probabilities = model(pixels)  # pixels: torch.float32 "
                   f"N x 3 x {size} x {size}"]
    lines = [
        f"# {name}: a chimeramix classifier ({manifest['method']} on {manifest['dataset']})", "",
        f"- format: {f'ONNX (opset {ONNX_OPSET}), runs with onnxruntime' if fmt == 'onnx' else 'TorchScript'}",
        f"- input `pixels`: float32, N x 3 x {size} x {size} (any N), RGB in [0, 1] (pixel value / 255), "
        "channels first",
        f"- preparing an image: {pre['resize']}",
        f"- inside the file: normalisation (x - mean) / std with mean {pre['mean']} and std {pre['std']}, the "
        f"{manifest['architecture']} classifier, a softmax",
        f"- output `probabilities`: float32, N x {len(manifest['classes'])}, in the order of the classes",
        f"- classes: {classes}", "", "```python", *example, "```", "",
        "The bundle's model.json holds the same facts (and the run's config) for programs.", ""]
    return "\n".join(lines)
