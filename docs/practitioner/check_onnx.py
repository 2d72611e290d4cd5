"""The ONNX check of the evidence: the exported file, run by onnxruntime on the CPU, against PyTorch.

    python docs/practitioner/check_onnx.py RUN IMAGE_FOLDER

prepares every readable image of IMAGE_FOLDER as the run's training images were, computes the class
probabilities with the run's PyTorch model (chimeramix.load_classifier) and with RUN/model/model.onnx
(onnxruntime, CPUExecutionProvider, one batch), and prints the largest absolute difference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime

from chimeramix import load_classifier
from chimeramix.predictor import image_files, read_files
from chimeramix.rundir import RunFolder


def main(run: Path, images: Path) -> None:
    classifier = load_classifier(run, "cpu")
    pixels, errors = read_files(classifier, image_files([images]))
    torch_probabilities = classifier.predict_pixels(pixels).probabilities
    session = onnxruntime.InferenceSession(str(RunFolder(run).export_file("onnx")),
                                           providers=["CPUExecutionProvider"])
    inputs = (pixels.astype(np.float32) / 255).transpose(0, 3, 1, 2)
    (onnx_probabilities,) = session.run(["probabilities"], {"pixels": inputs})
    difference = float(np.abs(onnx_probabilities - torch_probabilities).max())
    same = bool((onnx_probabilities.argmax(1) == torch_probabilities.argmax(1)).all())
    print(f"{len(pixels)} images ({len(errors)} unreadable skipped): largest |onnxruntime - PyTorch| probability "
          f"difference {difference:.2e}; same predicted class for every image: {same}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
