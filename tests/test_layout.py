"""The layout is a map of the methods (issue 25): one folder per method family under ``chimeramix/methods/``,
holding that family's modules, no module of a family left at its old place, and the package's folders in layers
(the core's registry and training loop below the methods, the classifier's trainer and the experiments above)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

import chimeramix

PACKAGE = Path(chimeramix.__file__).parent
FAMILIES = {
    "chimeramix": ("masks", "segments", "generator", "discriminator", "objective", "pairs", "pictures", "trainer",
                   "frozen_generator", "pair_mixing", "settings", "axes", "hooks"),
    "glico": ("settings", "hooks", "networks", "distances", "objective", "trainer", "interpolation"),
    "supermix": ("mask_optimisation", "student", "settings", "hooks"),
    "scattering": ("morlet", "transform", "network", "pictures", "settings", "hooks"),
    "image_space": ("policies", "erasing", "label_mixing", "cosine_loss", "settings", "hooks"),
}
OLD_PATHS = ("chimeramix.models.glico", "chimeramix.train.glico",
             "chimeramix.methods.latent_interpolation", "chimeramix.train.supermix", "chimeramix.models.scattering",
             "chimeramix.models.morlet", "chimeramix.models.scattering_wrn", "chimeramix.train.wavelets",
             "chimeramix.masks", "chimeramix.segments", "chimeramix.models.generator",
             "chimeramix.models.discriminator", "chimeramix.train.generator", "chimeramix.methods.pair_mixing",
             "chimeramix.methods.registry", "chimeramix.methods.hooks", "chimeramix.methods.image_ops",
             "chimeramix.train.classifier", "chimeramix.train.objectives")


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_is_one_folder(family: str) -> None:
    """Its folder holds exactly its modules, each importable there; its ``__init__`` names every one."""
    folder = PACKAGE / "methods" / family
    assert {path.stem for path in folder.glob("*.py")} - {"__init__"} == set(FAMILIES[family])
    package = importlib.import_module(f"chimeramix.methods.{family}")
    for name in FAMILIES[family]:
        importlib.import_module(f"chimeramix.methods.{family}.{name}")
        assert f":mod:`.{name}`" in (package.__doc__ or ""), f"{family}/__init__.py does not say what {name} owns"


@pytest.mark.parametrize("old", OLD_PATHS)
def test_old_paths_are_gone(old: str) -> None:
    """No shim is left where a family's module was."""
    assert importlib.util.find_spec(old) is None


def test_no_module_outside_its_folder_is_named_for_a_method() -> None:
    """Outside ``methods/<family>/``, no source file is named for GLICO, SuperMix or scattering."""
    outside = [path.relative_to(PACKAGE) for path in PACKAGE.rglob("*.py")
               if path.parent.parent != PACKAGE / "methods" or path.parent.name not in FAMILIES]
    assert not [path for path in outside if any(word in path.stem for word in ("glico", "supermix", "scattering",
                                                                                "morlet", "wavelet"))]


NAMED_OUTSIDE = {
    "glico": set(),
    "supermix": set(),
    "scattering": set(),
}
"""The source files outside a family's folder and the registry that still name it (issue 25's target: none).
The list may only shrink: a file that starts naming a method fails below; one that stops must leave the list."""
REGISTRY = ("components/builtin.py", "components/registry.py")
"""The one registry: the built-in table, and the combinations it refuses."""


@pytest.mark.parametrize("family", NAMED_OUTSIDE)
def test_no_new_file_outside_a_family_names_it(family: str) -> None:
    naming = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
              if family in path.read_text().lower()}
    outside = {name for name in naming
               if not name.startswith(f"methods/{family}/") and name not in REGISTRY}
    assert not outside - NAMED_OUTSIDE[family], f"new files name {family}: move what they need into its folder"
    assert not NAMED_OUTSIDE[family] - outside, f"these no longer name {family}: take them off NAMED_OUTSIDE"


USED_OUTSIDE = {
    ("chimeramix", "__init__.py"): "the package's face exports the generator's config, trainer and loader",
    ("chimeramix", "methods/__init__.py"): "the methods' face re-exports its pair mixing for plug-ins",
    ("image_space", "methods/__init__.py"): "the methods' face re-exports cutout for plug-ins",
}
"""The source files outside a family's folder (and the registry) that import its modules, and why: only the package
faces' re-exports. ChimeraMix's generator is a kind of run its components declare (``methods/chimeramix/hooks.py``:
with its sweep axes and how a time budget plans it) and the image-space methods' stages are their components'
transforms, so the training core, the augmentation, the configs, the resolver, the run kinds, the cost book, the
sweep's plan and budget, the analysis and the command line import no family. The list may only shrink."""


def _family_imports() -> set[tuple[str, str]]:
    """(family, file) for every file outside the family's folder and the registry that imports one of its modules."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else
                       [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            found |= {(family, name) for family in FAMILIES for module in modules
                      if f"{module}.".startswith(f"chimeramix.methods.{family}.")
                      and not name.startswith(f"methods/{family}/") and name not in REGISTRY}
    return found


def test_families_are_imported_outside_their_folders_only_where_listed() -> None:
    importing = _family_imports()
    assert not importing - set(USED_OUTSIDE), "new files import a family: move what they need into it or the core"
    assert not set(USED_OUTSIDE) - importing, "these no longer import the family: take them off USED_OUTSIDE"


def _room(module: str) -> str | None:
    """The top-level module or folder of ``chimeramix`` that ``module`` is in (``None``: another package)."""
    parts = module.split(".")
    if parts[0] != "chimeramix":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _folder_imports() -> dict[str, set[str]]:
    """Which top-level modules and folders of the package import which others (every import, lazy ones too)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        source = parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "chimeramix":
                targets = [f"chimeramix.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            edges[source] |= {room for room in map(_room, targets) if room not in (None, source)}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str]:
    """One cycle of ``edges`` (empty: none)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(room: str) -> list[str]:
        state[room] = 1
        path.append(room)
        for other in sorted(edges.get(room, ())):
            if state.get(other) == 1:
                return [*path[path.index(other):], other]
            if other not in state and (found := visit(other)):
                return found
        state[room] = 2
        path.pop()
        return []

    return next((found for room in sorted(edges) if room not in state and (found := visit(room))), [])


def test_folders_import_each_other_in_layers() -> None:
    """No circle between the package's folders and top-level modules (the package's ``__init__``, which exports
    from all of them, left out): the registry of components below the methods, the training loop below the
    methods' trainers, the classifier's trainer above the methods whose batches it trains on."""
    edges = {room: targets - {"__init__"} for room, targets in _folder_imports().items() if room != "__init__"}
    assert not _cycle(edges), f"folders import each other in a circle: {' -> '.join(_cycle(edges))}"


def test_the_core_below_the_methods_imports_none() -> None:
    """The registry and hooks, the training loop and the networks name no method module: they reach a method only
    through a component's hooks."""
    edges = _folder_imports()
    for room in ("components", "train", "models", "config", "data", "resolution", "runkinds"):
        assert "methods" not in edges[room] and "classifier" not in edges[room], f"{room} imports a method"


def test_a_config_that_moved_with_its_method_says_where_it_is() -> None:
    """``GeneratorConfig`` left ``chimeramix.config`` for ChimeraMix's folder: the old import is a one-line error
    naming the new place, and the package's face still exports it."""
    with pytest.raises(ImportError, match=r"import it from chimeramix\.methods\.chimeramix\.settings"):
        exec("from chimeramix.config import GeneratorConfig", {})
    from chimeramix import GeneratorConfig
    from chimeramix.methods.chimeramix.settings import GeneratorConfig as in_its_folder

    assert GeneratorConfig is in_its_folder and GeneratorConfig.KIND == "generator"
