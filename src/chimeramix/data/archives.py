"""The official archives, opened safely: extraction that an archive cannot steer, and a restricted
unpickler for the CIFAR pickles.

Extraction never lets an archive choose where files go: every member name (and link target) is checked to
stay inside the extraction folder, otherwise the whole archive is refused, and only the needed regular files
are copied out, to paths built from their base names.
"""

from __future__ import annotations

import codecs
import pickle
import posixpath
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from chimeramix.errors import ChimeraMixError

# ----------------------------------------------------------------------------------------------- extraction


def extract_members(archive: Path, target: Path, wanted: Iterable[str]) -> dict[str, Path]:
    """Copy the regular files whose base names are in ``wanted`` to ``target``; returns name -> path.

    Every member of the archive is checked first: an absolute name, a name with ``..`` that leaves
    ``target``, or a link pointing outside it makes the whole archive an error that names the member.
    """
    wanted = set(wanted)
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                infos = zipped.infolist()
                for info in infos:
                    check_member(archive, target, info.filename)
                chosen = {posixpath.basename(i.filename): i for i in infos if not i.is_dir()}
                return copy_members(archive, target, wanted, chosen, zipped.open)
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                check_member(archive, target, member.name)
                if member.issym():
                    link = posixpath.join(posixpath.dirname(member.name), member.linkname)
                    check_member(archive, target, link)
                elif member.islnk():
                    check_member(archive, target, member.linkname)
            files = {posixpath.basename(m.name): m for m in members if m.isfile()}
            return copy_members(archive, target, wanted, files, tar.extractfile)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ChimeraMixError(
            f"{archive} is not a readable archive ({error}); delete it and download it again"
        ) from None


def check_member(archive: Path, target: Path, name: str) -> None:
    """Raise if the member name ``name`` would land outside ``target``."""
    inside = target.resolve()
    if name.startswith(("/", "\\")) or not (inside / name).resolve().is_relative_to(inside):
        raise ChimeraMixError(
            f"archive {archive} has a member that escapes the extraction folder ({name!r}), so it was not "
            "extracted; delete it and download the official file again"
        )


def copy_members(
    archive: Path,
    target: Path,
    wanted: set[str],
    members: Mapping[str, Any],
    open_member: Callable[[Any], Any],
) -> dict[str, Path]:
    """Copy the wanted members (base name -> archive entry) out with ``open_member``, in archive order.

    Archive order matters for a .tar.gz: going back means decompressing again from the start.
    """
    absent = sorted(wanted - set(members))
    if absent:
        raise ChimeraMixError(
            f"{archive} lacks {', '.join(absent)}, so it is not the official archive; delete it and download "
            "it again"
        )
    paths = {}
    for name, entry in members.items():
        if name in wanted:
            paths[name] = target / name
            with open_member(entry) as source, open(paths[name], "wb") as out:
                shutil.copyfileobj(source, out, length=1 << 20)
    return paths


# ------------------------------------------------------------------------------------------------ unpickling


class _CifarUnpickler(pickle.Unpickler):
    """Reads the official CIFAR pickles without running arbitrary code.

    A pickle may name any importable callable, so loading an untrusted one can execute code. The CIFAR files
    only hold dicts, lists, strings, ints and uint8 numpy arrays; rebuilding those needs exactly numpy's
    array reconstructor, ``numpy.ndarray``, ``numpy.dtype`` and (for bytes written by Python 3 at protocol 2)
    ``_codecs.encode``. Every other global is refused. The reconstructor is taken from what this numpy's
    arrays pickle to, so it works whether the file says ``numpy.core`` (numpy 1) or ``numpy._core``.
    """

    _RECONSTRUCT = np.empty(0, np.uint8).__reduce__()[0]
    _ALLOWED: ClassVar[dict[tuple[str, str], Any]] = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which CIFAR files never need"
            ) from None


def load_cifar_pickle(path: Path) -> dict[str, Any]:
    """One CIFAR pickle as a dict with ``str`` keys (Python 2 strings read as latin-1, as numpy advises)."""
    try:
        with open(path, "rb") as handle:
            content = _CifarUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise ChimeraMixError(
            f"{path.name} is not an official CIFAR pickle ({error}); delete the archive and download it again"
        ) from None
    if not isinstance(content, dict):
        raise ChimeraMixError(f"{path.name} holds no dict as CIFAR files do; download the archive again")
    return {latin1_text(key): value for key, value in content.items()}


def latin1_text(value: Any) -> str:
    """A CIFAR pickle string (bytes in Python 2 files) as text."""
    return value.decode("latin1") if isinstance(value, bytes) else str(value)
