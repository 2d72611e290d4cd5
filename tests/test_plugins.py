"""A method from another installed package: the example plug-in (``examples/chimeramix-example-method``) found
through its ``chimeramix.methods`` entry point, trained end to end by a sweep on tiny data, and shown by ``table``.

The package is "installed" as pip would lay it out (its package beside a ``.dist-info`` holding the entry points
of its ``pyproject.toml``) in a temporary folder put on ``sys.path``, so that no environment changes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from chimeramix.bundle import open_bundle
from chimeramix.cli import main
from chimeramix.components.hooks import load_reference
from chimeramix.components.registry import load_plugins
from chimeramix.errors import ChimeraMixError
from chimeramix.methods import COMPONENTS, Component, method_names, parse_method, register_method

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "chimeramix-example-method"
PACKAGE = "chimeramix_example_method"


def install(site: Path) -> None:
    """Lay the example package out in ``site`` as an installed distribution with its entry points."""
    shutil.copytree(EXAMPLE / "src" / PACKAGE, site / PACKAGE)
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    info = site / f"{PACKAGE}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = [f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
              for group, entries in project["entry-points"].items()]
    (info / "entry_points.txt").write_text("\n".join(groups))


@pytest.fixture
def flip_blend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example plug-in installed and registered (for the sweep's spawned workers too: they inherit
    ``sys.path``); unregistered afterwards."""
    site = tmp_path / "site"
    install(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    load_plugins()
    yield "flip-blend"
    for name in ("flip-blend", "pooled"):
        COMPONENTS.pop(name, None)
    for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
        del sys.modules[name]


def test_the_plug_in_registers_as_a_policy(flip_blend: str) -> None:
    assert flip_blend in method_names()
    assert parse_method(f"cutout+{flip_blend}").name == f"{flip_blend}+cutout"
    with pytest.raises(ChimeraMixError, match="two policy methods"):
        parse_method(f"{flip_blend}+autoaugment")
    reference = COMPONENTS[flip_blend].transform
    assert reference is not None
    transform = load_reference(reference)(8)
    assert type(transform).__module__ == f"{PACKAGE}.transform"
    image = torch.rand(3, 8, 8)
    blended = [transform(image) for _ in range(20)]
    assert any(not torch.equal(out, image) for out in blended) and all(out.shape == image.shape for out in blended)


def test_register_method_refuses_what_the_core_cannot_run() -> None:
    with pytest.raises(ChimeraMixError, match="taken"):
        register_method("cutout", Component("policy", "a second cutout", transform="x:y"))
    with pytest.raises(ChimeraMixError, match="a policy with a transform"):
        register_method("my-mixing", Component("pair-mixing", "needs core code"))
    with pytest.raises(ChimeraMixError, match="declare no front_end"):
        register_method("my-front", Component("front-end", "no network",
                                              hooks="chimeramix.methods.supermix.hooks:HOOKS"))
    assert "my-mixing" not in COMPONENTS and "my-front" not in COMPONENTS


@pytest.mark.slow
def test_a_plug_in_method_trains_in_a_sweep_and_shows_in_the_table(
    flip_blend: str, tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    argv = ["sweep", "--datasets", "cifar10", "--methods", f"baseline,{flip_blend}", "--k", "2", "--seeds", "0",
            "--preset", "quick", "--store", str(store), "--data-root", str(tiny_data_root), "--device", "cpu",
            "--workers", "1", "--no-progress", "--classifier-set", "epochs=1", "--classifier-set", "repetition=1",
            "--classifier-set", "architecture=wrn-10-1"]
    assert main(argv) == 0
    assert "2 of 2 jobs finished (2 by this sweep)" in capsys.readouterr().out
    assert main(["table", "--store", str(store)]) == 0
    table = capsys.readouterr().out
    assert "| baseline |" in table and f"| {flip_blend} |" in table


def test_a_plug_in_front_end_trains_with_its_own_settings_and_network(
    flip_blend: str, tiny_data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example package's second method, ``pooled``: its option, its config section and its network
    ``pooled-wrn-W`` come from its hooks; the run trains, its bundle loads with the kernel it was trained with,
    and a baseline cannot take the front end's network."""
    common = ["classifier", "train", "--dataset", "cifar10", "--k", "2", "--data-root", str(tiny_data_root),
              "--preset", "quick", "--epochs", "1", "--repetition", "2", "--device", "cpu", "--no-progress", "--yes"]
    assert main([*common, "--method", "pooled+cutout", "--pooled-kernel", "4", "--out", str(tmp_path / "run")]) == 0
    assert "pooled+cutout on cifar10" in capsys.readouterr().out
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["config"]["architecture"] == "pooled-wrn-2" and result["config"]["pooled"] == {"kernel": 4}
    _, model = open_bundle(tmp_path / "run")
    assert type(model).__module__ == f"{PACKAGE}.front_end" and model.front.kernel_size == 4
    assert main([*common, "--method", "pooled", "--pooled-kernel", "3", "--out", str(tmp_path / "odd")]) == 2
    assert "pooled.kernel must divide the image side 32, got 3" in capsys.readouterr().err
    assert main([*common, "--architecture", "pooled-wrn-1", "--out", str(tmp_path / "base")]) == 2
    assert "is the network of the front end pooled" in capsys.readouterr().err
