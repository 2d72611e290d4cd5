"""The code standard of issue 25 over ``src/chimeramix``: no function over 60 lines, no file over 400 lines, no import
circle (measured as ``scripts/structure_figures.py`` measures them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``scripts/structure_figures.py`` as a module, run from the repository root (its paths are relative)."""
    monkeypatch.chdir(ROOT)
    spec = importlib.util.spec_from_file_location("structure_figures", ROOT / "scripts" / "structure_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sources(figures: ModuleType) -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(figures.PACKAGE.rglob("*.py"))}


def test_no_function_over_60_lines(figures: ModuleType) -> None:
    assert figures.MAX_FUNCTION_LINES == 60
    assert figures.long_functions(sources(figures)) == []


def test_no_file_over_400_lines(figures: ModuleType) -> None:
    assert figures.MAX_FILE_LINES == 400
    assert figures.long_files(sources(figures)) == []


def test_no_import_circle(figures: ModuleType) -> None:
    assert figures.import_circles(sorted(figures.PACKAGE.rglob("*.py"))) == []
