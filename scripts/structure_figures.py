"""Print the structure figures of issue 25: files naming each method, long functions and files, import circles.

Run from the repository root: ``python scripts/structure_figures.py``. It reads the sources as text and imports
nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path("src/chimeramix")
METHOD_WORDS = {
    "glico": r"glico",
    "supermix": r"supermix",
    "scattering": r"scattering",
    "chimeramix (its own modules)": r"\b(masks|segments|pair_mixing|frozen_generator|discriminator|adversarial)\b",
}
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400


def module_name(path: Path) -> str:
    """The dotted module name of a source file under src/."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's own modules that a file imports, anywhere in it."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found.update(name for name in names if name in known)
    return found - {module_name(path)}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def long_functions(texts: dict[Path, str]) -> list[tuple[Path, str, int]]:
    """(file, name, lines) of every function longer than :data:`MAX_FUNCTION_LINES` lines."""
    found = []
    for path, text in texts.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append((path, node.name, length))
    return found


def long_files(texts: dict[Path, str]) -> list[tuple[Path, int]]:
    """(file, lines) of every file longer than :data:`MAX_FILE_LINES` lines."""
    return [(path, text.count("\n")) for path, text in texts.items() if text.count("\n") > MAX_FILE_LINES]


def import_circles(files: list[Path]) -> list[list[str]]:
    """The import circles among the package's ``files``."""
    known = {module_name(path) for path in files}
    graph = {module_name(path): imported_modules(path, known) for path in files}
    return circles(graph)


def main() -> None:
    """Print each figure under a heading."""
    files = sorted(PACKAGE.rglob("*.py"))
    texts = {path: path.read_text() for path in files}
    print("## Files (lines) of src/chimeramix naming each method")
    for label, pattern in METHOD_WORDS.items():
        naming = [path for path, text in texts.items() if re.search(pattern, text, re.IGNORECASE)]
        lines = sum(len(re.findall(f".*{pattern}.*", texts[path], re.IGNORECASE)) for path in naming)
        print(f"- {label}: {len(naming)} files ({lines} lines)")
    print(f"## Functions over {MAX_FUNCTION_LINES} lines")
    for path, name, length in long_functions(texts):
        print(f"- {path}: {name} ({length})")
    print(f"## Files over {MAX_FILE_LINES} lines")
    for path, length in long_files(texts):
        print(f"- {path} ({length})")
    found = import_circles(files)
    print(f"## Import circles: {len(found)}")
    for group in found:
        print(f"- {', '.join(group)}")


if __name__ == "__main__":
    main()
