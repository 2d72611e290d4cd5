"""A finished classifier run as a model: its bundle, ``load_classifier(...).predict``, ``chimeramix predict``
and ``chimeramix export`` (ONNX checked with onnxruntime, TorchScript), on a folder of real photos."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import chimeramix
from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig
from chimeramix.data import load_data_split
from chimeramix.export import export_classifier
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.resolution import resolve_data
from chimeramix.rundir import RunFolder
from conftest import TINY_CLASSES
from photos import add_broken_files, make_photo_folder

pytestmark = pytest.mark.usefixtures("one_thread")

ONNX_TOLERANCE = 1e-5
"""Largest difference allowed between onnxruntime's and PyTorch's probabilities (float32 on the CPU)."""


def tiny_config(data: DataConfig) -> ClassifierConfig:
    return ClassifierConfig(data=data, architecture="wrn-10-1", epochs=2, repetition=2, batch_size=8,
                            checkpoint_every=1, device="cpu")


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A photo folder (3 classes of 6 crops) and a finished tiny classifier run on it at 16 px."""
    root = tmp_path_factory.mktemp("model-use")
    photos = make_photo_folder(root / "photos", per_class=6)
    data = resolve_data(DataConfig(f"folder:{photos}", k=4, seed=0, folder_image_size=16))
    train_classifier(tiny_config(data), root / "run", progress=False)
    return photos, root / "run"


def test_the_bundle_holds_everything_needed_to_apply_the_model(photo_run: tuple[Path, Path]) -> None:
    _, run = photo_run
    manifest = json.loads(RunFolder(run).bundle_manifest.read_text())
    assert manifest["classes"] == ["astronaut", "chelsea", "coffee"]
    assert manifest["architecture"] == "wrn-10-1" and manifest["method"] == "baseline"
    pre = manifest["preprocessing"]
    assert pre["image_size"] == 16 and "centre 16 x 16 square" in pre["resize"] and len(pre["mean"]) == 3
    assert manifest["config"]["data"]["fingerprint"] is not None
    assert RunFolder(run).bundle_weights.is_file()


def test_predict_on_the_test_split_reproduces_the_runs_accuracy(photo_run: tuple[Path, Path]) -> None:
    _, run = photo_run
    result = RunFolder(run).read_result()
    classifier = chimeramix.load_classifier(run)
    test = load_data_split(ClassifierConfig(**{"data": resolve_data(DataConfig(**result["config"]["data"]))}).data,
                           "test")
    predictions = classifier.predict(test.images)
    assert predictions.probabilities.shape == (len(test), 3)
    assert np.allclose(predictions.probabilities.sum(axis=1), 1, atol=1e-5)
    assert float((predictions.indices == test.labels).mean()) == pytest.approx(result["metrics"]["accuracy"])
    assert predictions.labels == [classifier.classes[i] for i in predictions.indices]
    flipped = classifier.predict(test.images[:, :, ::-1])
    both = classifier.predict(test.images, tta="flip")
    assert np.allclose(both.probabilities, (predictions.probabilities + flipped.probabilities) / 2, atol=1e-6)


def test_the_command_reports_unreadable_files_and_classifies_the_rest(
    photo_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos, run = photo_run
    shutil.copytree(photos / "coffee", tmp_path / "new")
    broken = add_broken_files(tmp_path / "new")
    (tmp_path / "new" / "notes.txt").write_text("not an image")
    broken.append(tmp_path / "new" / "notes.txt")
    code = main(["predict", str(run), str(tmp_path / "new"), str(photos / "astronaut" / "astronaut-00.png"),
                 "--top-k", "2", "--output", str(tmp_path / "p.csv"), "--output", str(tmp_path / "p.json")])
    out = capsys.readouterr().out
    assert code == 1 and "4 of 11 file(s) could not be read" in out
    for path in broken:
        assert f"{path}" in out
    assert "ERROR: not an image" in out and "ERROR: not an image type the loader reads (.txt)" in out
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows) == 11 and sum(1 for row in rows if row["error"]) == 4
    good = [row for row in rows if not row["error"]]
    assert all(row["predicted"] in ("astronaut", "chelsea", "coffee") and row["top"].count(":") == 2 for row in good)
    records = json.loads((tmp_path / "p.json").read_text())
    expected = chimeramix.load_classifier(run).predict([Path(row["path"]) for row in good]).probabilities.max(axis=1)
    assert [r["probability"] for r in records if r["error"] is None] == pytest.approx(expected.tolist(), abs=1e-6)


def test_predict_refuses_generator_and_unfinished_runs(
    photo_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos, run = photo_run
    generator = RunFolder(tmp_path / "generator")
    generator.path.mkdir()
    generator.write_config(GeneratorConfig(data=DataConfig(f"folder:{photos}", k=4)), torch.device("cpu"))
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run, unfinished)
    (unfinished / "result.json").unlink()
    for folder, message in [(generator.path, "holds a generator run, not a classifier run"),
                            (unfinished, "is a classifier run that has not finished"),
                            (tmp_path / "absent", "does not exist; pass the folder of a finished classifier run")]:
        assert main(["predict", str(folder), str(photos)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_a_builtin_dataset_run_and_a_run_without_bundle_work_too(tiny_data_root: Path, tmp_path: Path) -> None:
    data = DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root))
    train_classifier(tiny_config(data), tmp_path / "run", progress=False)
    before = chimeramix.load_classifier(tmp_path / "run")
    assert before.classes == TINY_CLASSES and before.image_size == 8
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    shutil.rmtree(RunFolder(tmp_path / "run").model_dir)  # as a run finished before bundles existed
    after = chimeramix.load_classifier(tmp_path / "run")
    assert RunFolder(tmp_path / "run").bundle_manifest.is_file() and after.classes == TINY_CLASSES
    assert np.array_equal(after.predict(images).probabilities, before.predict(images).probabilities)


def test_the_onnx_file_gives_the_pytorch_probabilities(photo_run: tuple[Path, Path], tmp_path: Path) -> None:
    import onnxruntime

    photos, run = photo_run
    path = export_classifier(run, "onnx", tmp_path / "model.onnx")
    assert "input `pixels`: float32, N x 3 x 16 x 16" in (tmp_path / "model.onnx.md").read_text()
    classifier = chimeramix.load_classifier(run)
    pixels = classifier.predict(sorted(photos.rglob("*.png"))[:5]).probabilities  # 5 images: any batch size
    prepared = np.stack([classifier.prepare(p) for p in sorted(photos.rglob("*.png"))[:5]])
    inputs = (prepared.astype(np.float32) / 255).transpose(0, 3, 1, 2)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_probabilities,) = session.run(["probabilities"], {"pixels": inputs})
    assert np.abs(onnx_probabilities - pixels).max() < ONNX_TOLERANCE
    (single,) = session.run(["probabilities"], {"pixels": inputs[:1]})
    assert np.abs(single - pixels[:1]).max() < ONNX_TOLERANCE


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_the_torchscript_file_gives_the_same_probabilities(
    photo_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = photo_run
    assert main(["export", str(run), "--format", "torchscript"]) == 0
    path = RunFolder(run).export_file("torchscript")
    assert str(path) in capsys.readouterr().out
    images = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    expected = chimeramix.load_classifier(run).predict(images).probabilities
    loaded = torch.jit.load(str(path))
    found = loaded(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).detach().numpy()
    assert np.abs(found - expected).max() < 1e-6
