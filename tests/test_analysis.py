"""The analysis (``chimeramix analyze``): the TF FID Inception from each accepted file format, generated images,
cached reference features, FID / KID by torchmetrics, and the MDE embedding."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from chimeramix.analysis.features import FeatureExtractor, classifier_extractor, inception_extractor
from chimeramix.analysis.fid import Distances
from chimeramix.analysis.generated import default_count, generate, generator_run
from chimeramix.analysis.inception import TFInception, clean_resize, load_inception, normalise
from chimeramix.analysis.reference import cache_key, reference_features
from chimeramix.classifier.trainer import train_classifier
from chimeramix.cli import main
from chimeramix.config import ClassifierConfig, DataConfig, MaskConfig
from chimeramix.errors import ChimeraMixError
from chimeramix.methods.chimeramix.settings import GeneratorConfig
from chimeramix.methods.chimeramix.trainer import train_generator
from chimeramix.methods.glico.settings import GlicoConfig
from chimeramix.methods.glico.trainer import train_glico

TINY_GENERATOR = {"base_channels": 4, "blocks": 2, "mix_after": 1, "batch_size": 8, "checkpoint_every": 1,
                  "device": "cpu", "epochs": 1, "repetition": 2}
PYTORCH_FID = "pt_inception-2015-12-05-6726825d.pth"
TORCH_FIDELITY = "weights-inception-2015-12-05-6726825d.pth"
CLEAN_FID = "inception-2015-12-05.pt"

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data(root: Path, k: int = 2) -> DataConfig:
    return DataConfig("cifar10", k=k, seed=0, data_root=str(root))


@pytest.fixture(scope="module")
def runs(tiny_data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Finished tiny runs on the tiny CIFAR-10 (8 px, k = 2): a generator per mask kind, GLICO, a classifier."""
    made = {}
    for mask in ("grid", "seg"):
        made[mask] = tmp_path_factory.mktemp(f"generator-{mask}")
        train_generator(GeneratorConfig(data=tiny_data(tiny_data_root), masks=MaskConfig(kind=mask), **TINY_GENERATOR),
                        made[mask], progress=False)
    made["glico"] = tmp_path_factory.mktemp("glico")
    train_glico(GlicoConfig(data=tiny_data(tiny_data_root), epochs=1, repetition=2, batch_size=8, latent_dim=16,
                            noise_dim=4, device="cpu"), made["glico"], progress=False)
    made["classifier"] = tmp_path_factory.mktemp("classifier")
    train_classifier(ClassifierConfig(data=tiny_data(tiny_data_root, k=12), architecture="wrn-10-1", epochs=1,
                                      repetition=1, batch_size=30, device="cpu"), made["classifier"], progress=False)
    return made


# ------------------------------------------------------------------------------------------- the Inception


def random_inception() -> TFInception:
    """A TF Inception with random weights that keep activations in range (PyTorch's default init lets them
    vanish over 40 layers)."""
    torch.manual_seed(0)
    network = TFInception()
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return network.eval()


class Scripted(nn.Module):
    """The shape of clean-fid's TorchScript file: a ``layers`` module from normalised images to pool3."""

    def __init__(self, layers: nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@pytest.fixture(scope="module")
def inception_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One random Inception saved as each accepted file: the two state dicts and the TorchScript module."""
    folder = tmp_path_factory.mktemp("inception")
    network = random_inception()
    for name in (PYTORCH_FID, TORCH_FIDELITY):
        torch.save(network.state_dict(), folder / name)
    with torch.no_grad():
        traced = torch.jit.trace(Scripted(network), torch.zeros(1, 3, 299, 299), check_trace=False)
    torch.jit.save(traced, str(folder / CLEAN_FID))
    return {name: folder / name for name in (PYTORCH_FID, TORCH_FIDELITY, CLEAN_FID)}


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generator run on a 2-class image folder with one training image per class (k = 1): few images for the
    slow Inception."""
    data = tmp_path_factory.mktemp("folder-data")
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            (data / split / name).mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(data / split / name / "0.png")
    run_dir = tmp_path_factory.mktemp("folder-generator")
    config = GeneratorConfig(data=DataConfig(f"folder:{data}", k=1, folder_image_size=8), working_size=32,
                             **TINY_GENERATOR)
    train_generator(config, run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def folder_features(folder_run: Path) -> torch.Tensor:
    """The saved random network's features of the folder's training images (clean-fid resize)."""
    with torch.inference_mode():
        return random_inception()(normalise(clean_resize(folder_images(folder_run))))


def folder_images(run_dir: Path) -> np.ndarray:
    from chimeramix.data import load_split

    return load_split(generator_run(run_dir).data.dataset, "train", folder_image_size=8).images


def test_fid_command_with_an_inception_file(inception_files: dict[str, Path], folder_run: Path,
                                            folder_features: torch.Tensor, tmp_path: Path) -> None:
    """The whole path: generated images, reference features of the full training set (cached), FID and KID by
    torchmetrics, JSON and plot."""
    out = tmp_path / "out"
    assert main(["analyze", "fid", str(folder_run), "--inception", str(inception_files[PYTORCH_FID]), "--n", "2",
                 "--out", str(out), "--cache", str(tmp_path / "cache"), "--device", "cpu"]) == 0
    result = json.loads((out / "fid.json").read_text())
    assert result["features"]["kind"] == "inception" and PYTORCH_FID in result["features"]["label"]
    (row,) = result["runs"]
    assert row["method"] == "ChimeraMix+Grid" and row["images"] == 2
    assert row["kid_subset_size"] == 2 and np.isfinite(row["kid_mean"])
    assert (out / "fid.png").stat().st_size > 0
    reference = result["references"][row["dataset"]]
    with np.load(reference["cache"]) as cached:
        reference_set = torch.from_numpy(cached["features"])
    torch.testing.assert_close(reference_set, folder_features, rtol=1e-4, atol=1e-5)
    generated, _ = generate(generator_run(folder_run), 2, 0, torch.device("cpu"))
    features = inception_extractor(inception_files[PYTORCH_FID], torch.device("cpu"))(generated, 100)
    assert row["fid"] == pytest.approx(Distances(reference_set, seed=0)(features)["fid"], rel=1e-6)  # these images


@pytest.mark.parametrize("name", [PYTORCH_FID, TORCH_FIDELITY, CLEAN_FID])
def test_every_inception_file_format_gives_the_saved_networks_features(
        name: str, inception_files: dict[str, Path], folder_run: Path, folder_features: torch.Tensor,
        tmp_path: Path) -> None:
    """From each file to the cached reference features, named by the file's and the images' key."""
    extractor = inception_extractor(inception_files[name], torch.device("cpu"))
    reference = reference_features(generator_run(folder_run).data.dataset, extractor, folder_image_size=8,
                                   cache_folder=tmp_path)
    torch.testing.assert_close(reference.features, folder_features, rtol=1e-4, atol=1e-5)
    assert extractor.kind == "inception"
    assert cache_key(extractor, folder_images(folder_run))[:16] in reference.cache.name


def test_clean_resize_is_pil_bicubic_on_float_channels() -> None:
    image = np.random.default_rng(0).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    resized = clean_resize(image)
    plane = Image.fromarray(image[0, ..., 1].astype(np.float32)).resize((299, 299), Image.Resampling.BICUBIC)
    assert resized.shape == (1, 299, 299, 3) and resized.dtype == np.float32
    np.testing.assert_array_equal(resized[0, ..., 1], np.clip(np.asarray(plane), 0, 255))
    assert not np.array_equal(resized, np.round(resized))  # floats, not re-quantised


def test_inception_files_that_are_missing_damaged_or_foreign_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ChimeraMixError, match=r"do not exist.*never downloads"):
        load_inception(tmp_path / PYTORCH_FID)
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(b"\x80\x02not a checkpoint" * 10)
    with pytest.raises(ChimeraMixError, match="damaged or not an Inception file"):
        load_inception(damaged)
    foreign = tmp_path / "resnet.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 4, 3)).state_dict(), foreign)
    with pytest.raises(ChimeraMixError, match="another architecture"):
        load_inception(foreign)
    imagenet = TFInception()
    imagenet.fc = nn.Linear(2048, 1000)
    torch.save(imagenet.state_dict(), tmp_path / "imagenet.pth")
    with pytest.raises(ChimeraMixError, match="torchvision's ImageNet Inception-v3"):
        load_inception(tmp_path / "imagenet.pth")
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(tmp_path / "script.pt"))
    with pytest.raises(ChimeraMixError, match="no `layers` module"):
        load_inception(tmp_path / "script.pt")


# ------------------------------------------------------------------------------------------ FID and KID


def with_moments(count: int, mean: torch.Tensor, root: torch.Tensor, seed: int) -> torch.Tensor:
    """``count`` features whose sample mean is exactly ``mean`` and whose unbiased sample covariance is exactly
    ``root @ root.T`` (whitened Gaussian draws, then coloured)."""
    draws = torch.randn(count, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    draws = draws - draws.mean(dim=0)
    whiten = torch.linalg.cholesky(torch.cov(draws.T))
    white = torch.linalg.solve_triangular(whiten, draws.T, upper=False).T
    return (mean + white @ root.T).float()


def scipy_fid(x: np.ndarray, y: np.ndarray) -> float:
    """FID as clean-fid and pytorch-fid compute it: |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), in float64 with
    SciPy's matrix square root, real part."""
    from scipy import linalg

    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_of_two_gaussians_is_the_closed_form() -> None:
    """Features with exact means and covariances that share eigenvectors Q (Σ_i = Q diag(λ_i) Q^T): FID =
    |μ1 - μ2|^2 + Σ_k (sqrt λ1_k - sqrt λ2_k)^2, Eq. 4 in closed form."""
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    spectra = torch.tensor([[4.0, 2.0, 1.0, 0.5, 0.25, 0.1], [1.0, 3.0, 1.0, 2.0, 0.5, 0.3]], dtype=torch.float64)
    means = torch.tensor([[0.0] * 6, [1.0, -0.5, 0.0, 2.0, 0.0, 0.3]], dtype=torch.float64)
    x, y = (with_moments(3000, means[i], q @ torch.diag(spectra[i].sqrt()), seed=i) for i in (0, 1))
    expected = float((means[0] - means[1]).square().sum() + (spectra[0].sqrt() - spectra[1].sqrt()).square().sum())
    assert Distances(x, seed=0)(y)["fid"] == pytest.approx(expected, rel=1e-4)
    assert abs(Distances(x, seed=0)(x)["fid"]) < 1e-4  # a set against itself


def test_fid_agrees_with_a_scipy_reference_and_kid_with_its_formula() -> None:
    """General covariances (no shared eigenvectors): FID as torchmetrics computes it equals clean-fid's formula
    with SciPy's sqrtm on the same features; KID with one subset of all features is the unbiased MMD^2 of the
    cubic kernel k(a, b) = (a.b / d + 1)^3."""
    rng = torch.Generator().manual_seed(5)
    x = torch.randn(500, 8, generator=rng) @ torch.randn(8, 8, generator=rng)
    y = torch.randn(300, 8, generator=rng) @ torch.randn(8, 8, generator=rng) + 0.7
    assert Distances(x, seed=0)(y)["fid"] == pytest.approx(scipy_fid(x.double().numpy(), y.double().numpy()),
                                                          rel=1e-4)
    small_x, small_y = x[:40].double(), y[:40].double()
    distances = Distances(small_x.float(), seed=0)
    distances.kid.subsets = 1
    kernel = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    n = len(small_x)
    off = 1 - torch.eye(n, dtype=torch.float64)
    mmd = ((kernel(small_x, small_x) * off).sum() + (kernel(small_y, small_y) * off).sum()) / (n * (n - 1)) \
        - 2 * kernel(small_x, small_y).mean()
    assert distances(small_y.float())["kid_mean"] == pytest.approx(float(mmd), rel=1e-4)


def counting_extractor(key: str, calls: list[int]) -> FeatureExtractor:
    def batch(images: np.ndarray) -> torch.Tensor:
        calls.append(len(images))
        return torch.from_numpy(images.reshape(len(images), -1, 3).mean(axis=1).astype(np.float32))

    return FeatureExtractor("test", f"channel means ({key})", key, 3, None, batch)


def test_reference_features_are_cached_per_extractor(tiny_data_root: Path, tmp_path: Path) -> None:
    calls: list[int] = []
    first = reference_features("cifar10", counting_extractor("a", calls), data_root=str(tiny_data_root),
                               cache_folder=tmp_path)
    assert sum(calls) == 120 and first.features.shape == (120, 3)
    again = reference_features("cifar10", counting_extractor("a", calls), data_root=str(tiny_data_root),
                               cache_folder=tmp_path)
    assert sum(calls) == 120 and again.cache == first.cache  # read back, not recomputed
    torch.testing.assert_close(again.features, first.features)
    other = reference_features("cifar10", counting_extractor("b", calls), data_root=str(tiny_data_root),
                               cache_folder=tmp_path)
    assert sum(calls) == 240 and other.cache != first.cache


def test_generated_images_come_from_the_runs_split(runs: dict[str, Path], tiny_data_root: Path) -> None:
    assert default_count(10, 10) == 10_000 and default_count(100, 100) == 50_000
    for kind, method in (("grid", "ChimeraMix+Grid"), ("seg", "ChimeraMix+Seg"), ("glico", "GLICO")):
        run = generator_run(runs[kind])
        assert run.method == method and run.data.k == 2
        images, labels = generate(run, 30, 0, torch.device("cpu"))
        assert images.shape == (30, 8, 8, 3) and images.dtype == np.uint8
        assert np.bincount(labels, minlength=10).min() >= 2  # every split image starts a pair: 3 per class
        again, _ = generate(run, 30, 0, torch.device("cpu"))
        np.testing.assert_array_equal(images, again)
    with pytest.raises(ChimeraMixError, match="not a generator run"):
        generator_run(runs["classifier"])


def test_released_generators_are_sampled_as_their_classifier_resizes(tiny_data_root: Path, runs: dict[str, Path],
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator of the released recipe composes at its working size with ``align_corners=True`` (as that
    recipe's classifier resizes); the paper recipe's without."""
    from chimeramix.analysis import generated
    from chimeramix.methods import PairMixing
    from chimeramix.methods.chimeramix.masks import GridMasks
    from chimeramix.methods.frozen_run import ComposerContext

    corners: list[bool] = []

    def composer(context: ComposerContext) -> PairMixing:
        corners.append(context.align_corners)
        return PairMixing(GridMasks(), mask_size=8)

    monkeypatch.setattr(generated, "pair_composer", composer)
    paper = generator_run(runs["grid"])
    assert paper.recipe == "paper"
    for run in (paper, replace(paper, recipe="released")):
        generate(run, 4, 0, torch.device("cpu"))
    assert corners == [False, True]


def test_fid_command_with_classifier_features(runs: dict[str, Path], tiny_data_root: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fid"
    args = ["analyze", "fid", str(runs["grid"]), str(runs["seg"]), str(runs["glico"]), "--features",
            str(runs["classifier"]), "--n", "40", "--out", str(out), "--cache", str(tmp_path / "cache"),
            "--data-root", str(tiny_data_root), "--device", "cpu"]
    assert main(args) == 0
    result: dict[str, Any] = json.loads((out / "fid.json").read_text())
    assert result["features"]["kind"] == "classifier" and "NOT Inception" in result["features"]["label"]
    assert [row["method"] for row in result["runs"]] == ["ChimeraMix+Grid", "ChimeraMix+Seg", "GLICO"]
    assert all(row["images"] == 40 and row["fid"] > 0 and row["kid_subset_size"] == 40 for row in result["runs"])
    assert (out / "fid.png").stat().st_size > 0
    assert "NOT Inception" in capsys.readouterr().out


def test_classifier_features_describe_only_their_own_dataset(runs: dict[str, Path]) -> None:
    extractor = classifier_extractor(runs["classifier"], torch.device("cpu"))
    assert extractor.dim == 64 and extractor.dataset == "cifar10"
    extractor.check_dataset("cifair10", "run")  # the same training images
    with pytest.raises(ChimeraMixError, match="trained on cifar10, but run is a stl10 run"):
        extractor.check_dataset("stl10", "run")
    with pytest.raises(ChimeraMixError, match="not a classifier run"):
        classifier_extractor(runs["grid"], torch.device("cpu"))


# --------------------------------------------------------------------------------------------- embedding


def test_embed_command_is_seeded_and_marks_the_groups(runs: dict[str, Path], tiny_data_root: Path,
                                                      tmp_path: Path) -> None:
    pytest.importorskip("pymde", reason="the MDE embedding needs pymde (pip install 'chimeramix[analysis]')")
    tables = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        assert main(["analyze", "embed", str(runs["seg"]), "--features", str(runs["classifier"]), "--n", "200",
                     "--out", str(out), "--cache", str(tmp_path / "cache"), "--data-root", str(tiny_data_root),
                     "--device", "cpu"]) == 0
        assert (out / "embedding.png").stat().st_size > 0
        with open(out / "embedding.csv", encoding="utf-8") as handle:
            tables.append(list(csv.DictReader(handle)))
    rows = tables[0]
    assert tables[0] == tables[1]
    groups = [row["group"] for row in rows]
    assert len(rows) == 320 and groups.count("split") == 20 and groups.count("generated") == 200
    assert {row["class"] for row in rows} == {f"class{c}" for c in range(10)}
    assert all(np.isfinite(float(row["x"])) and np.isfinite(float(row["y"])) for row in rows)


def test_embed_without_pymde_is_a_one_line_error_naming_the_install(runs: dict[str, Path], tiny_data_root: Path,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pymde", None)  # as where it is not installed (the GPU machine)
    assert main(["analyze", "embed", str(runs["seg"]), "--features", str(runs["classifier"]), "--out",
                 str(tmp_path / "out"), "--data-root", str(tiny_data_root), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == ("chimeramix: error: the MDE embedding needs pymde: pip install "
                                       "'chimeramix[analysis]'\n")
    assert not (tmp_path / "out").exists()
