"""The public Python API: every name resolves, lazily, and the README's example runs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import chimeramix


def test_every_public_name_resolves() -> None:
    for name in chimeramix.PUBLIC:
        assert getattr(chimeramix, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'internal'"):
        _ = chimeramix.internal  # type: ignore[attr-defined]


def test_importing_the_package_does_not_load_torch() -> None:
    code = "import sys, chimeramix; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.usefixtures("one_thread")
def test_the_api_trains_a_generator_and_its_classifier(tiny_data_root: Path, tmp_path: Path) -> None:
    from chimeramix import ClassifierConfig, DataConfig, GeneratorConfig, MaskConfig, train_classifier

    data = DataConfig("cifar10", k=2, seed=0, data_root=str(tiny_data_root))
    generator = GeneratorConfig(data=data, masks=MaskConfig(kind="grid"), base_channels=4, blocks=2, mix_after=1,
                                batch_size=8, repetition=2, epochs=1, device="cpu")
    chimeramix.train_generator(generator, tmp_path / "generator", progress=False)
    assert chimeramix.load_generator(tmp_path / "generator").training is False
    config = ClassifierConfig(data=data, method="chimeramix-grid", generator=str(tmp_path / "generator"),
                              architecture="wrn-10-1", epochs=1, repetition=2, batch_size=8, device="cpu")
    result = train_classifier(config, tmp_path / "classifier", progress=False)
    assert 0 <= result["metrics"]["accuracy"] <= 1
    assert chimeramix.parse_method(result["method"]).needs_generator


def test_the_command_line_answers_help_without_loading_torch() -> None:
    """--help costs only the command line's own imports (the time is measured in benchmarks/cli_startup.py)."""
    code = ("import sys\nfrom chimeramix.cli import build_parser\nbuild_parser().format_help()\n"
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False"


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_lower_bounds_are_the_lowest_versions_tested() -> None:
    """pyproject.toml's lower bounds name what CI (requirements/ci.txt) or the GPU machine's software
    (requirements/gpu-stack.txt, rehearsed by scripts/gpu-stack-rehearsal.sh) installs, the lower of the two."""
    root = Path(__file__).resolve().parents[1]
    tested: dict[str, list[tuple[int, ...]]] = {}
    for name in ("ci.txt", "gpu-stack.txt"):
        for line in (root / "requirements" / name).read_text().splitlines():
            package, sep, pinned = line.split("#")[0].strip().partition("==")
            if sep:
                tested.setdefault(package.split("[")[0], []).append(version(pinned))
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    bounds = [*project["dependencies"], *(line for extra in project["optional-dependencies"].values()
                                          for line in extra)]
    for requirement in bounds:
        package, sep, lower = requirement.partition(">=")
        if sep:
            assert version(lower) == min(tested[package.split("[")[0]]), requirement
    assert version(project["requires-python"].removeprefix(">=")) == (3, 11)
