"""Plugin code for Dask workers that cannot see the project: each folder plugin version
read once, packed once, unpacked on each worker under its source hash.

`snapshot` reads a plugin's Python files once: the source hash is computed from exactly
the bytes kept for packing, so a worker runs the version the run planned even if the file
is saved again meanwhile. The pack keeps the layout relative to the plugin folder's parent
(`<plugin>/...`, `<shared>/...`, `<shared>.py`), so the loader imports an unpacked copy
just as it imports the folder. Entry-point plugins are installed packages: never packed.

    orchestrator: loader.folder_ref → snapshot → remember;  pack(hash) → zip bytes
    worker:       unpack(hash, zip) (cluster/code_shipping.py);  local_ref(ref) → where
                  to import from: the project's folder when it holds this very version
                  (a local worker), else the unpacked copy
"""
from __future__ import annotations

import atexit
import hashlib
import io
import logging
import shutil
import tempfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dataflow.errors import PluginError

if TYPE_CHECKING:
    from dataflow.plugins.loader import PluginRef

log = logging.getLogger("dataflow.plugins")
MAX_DATA_FILE = 16 * 2**20      # bytes: a larger non-Python file in a plugin is not shipped

_lock = threading.Lock()
_snapshots: dict[str, tuple[tuple[Path, ...], dict[str, bytes]]] = {}   # hash → parts, .py
_unpacked: dict[str, Path] = {}          # hash → the folder its parts were unpacked into
_root: list[Path] = []                   # this process's folder of unpacked code


def python_files(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    return [file for file in sorted(target.rglob("*.py")) if "__pycache__" not in file.parts]


def snapshot(parts) -> tuple[str, dict[str, bytes]]:
    """(source hash, {relative path: bytes}) of every .py file of the parts, read once:
    sha256 over each file's path (relative to its part's parent) and content."""
    digest, files = hashlib.sha256(), {}
    for part in map(Path, parts):
        for file in python_files(part):
            relative, data = file.relative_to(part.parent).as_posix(), file.read_bytes()
            digest.update(relative.encode())
            digest.update(data)
            files[relative] = data
    return digest.hexdigest()[:16], files


def remember(parts, files: dict[str, bytes], source_hash: str) -> None:
    """Keep a version's Python files, to pack them if a run ships this version."""
    with _lock:
        _snapshots.setdefault(source_hash, (tuple(map(Path, parts)), files))


def _data_files(parts: tuple[Path, ...]):
    """The other files of the plugin folders (read when packing; not in the hash)."""
    for part in parts:
        for file in sorted(part.rglob("*")) if part.is_dir() else ():
            if file.suffix in (".py", ".pyc") or "__pycache__" in file.parts \
                    or not file.is_file():
                continue
            if file.stat().st_size > MAX_DATA_FILE:
                log.warning("%s is larger than %d bytes: not shipped to workers", file,
                            MAX_DATA_FILE)
                continue
            yield file.relative_to(part.parent).as_posix(), file.read_bytes()


def pack(source_hash: str) -> bytes | None:
    """The zip of a version read by this process (None when it read no such version)."""
    with _lock:
        kept = _snapshots.get(source_hash)
    if kept is None:
        return None
    parts, files = kept
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for relative, data in [*files.items(), *_data_files(parts)]:
            archive.writestr(relative, data)
    return buffer.getvalue()


def _code_root(within: Path | None = None) -> Path:
    """This process's code folder: inside `within` (a Dask worker's own directory, which
    Dask removes even after the worker is killed) when given, else a temp folder removed
    at a normal exit."""
    if not _root:
        if within is not None:
            _root.append(Path(tempfile.mkdtemp(prefix="dataflow-code-", dir=within)))
        else:
            _root.append(Path(tempfile.mkdtemp(prefix="dataflow-code-")))
        atexit.register(shutil.rmtree, _root[0], True)
    return _root[0]


def unpack(source_hash: str, data: bytes, within: Path | None = None) -> Path:
    """Unpack a version's zip into this process's code folder (once per hash; `within`:
    see _code_root)."""
    with _lock:
        folder = _unpacked.get(source_hash)
        if folder is None:
            folder = _code_root(within) / source_hash
            partial = folder.with_name(source_hash + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(partial)
            partial.rename(folder)
            _unpacked[source_hash] = folder
        return folder


def local_ref(ref: PluginRef) -> PluginRef:
    """Where this process imports a folder plugin's version from: its folder when that
    holds this very version (or nothing was shipped: the orchestrator), else the copy
    shipped for its source hash."""
    if ref.path is None:
        return ref
    shipped = _unpacked.get(ref.source_hash)
    if Path(ref.path).is_dir() and (shipped is None or
                                    snapshot((ref.path, *ref.shared))[0] == ref.source_hash):
        return ref
    if shipped is None:
        raise PluginError(
            f"plugin {ref.module!r} (source hash {ref.source_hash}): its folder {ref.path} "
            "does not exist on this worker and its code was not shipped here. Fix: run it "
            "through a dataflow Engine (which ships plugin code to every worker), or make "
            "the plugin folder available at the same path on the workers")
    return replace(ref, path=str(shipped / Path(ref.path).name),
                   shared=tuple(str(shipped / Path(path).name) for path in ref.shared))
