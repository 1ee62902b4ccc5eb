"""Import plugin modules from folders or installed packages, once per source version.

The same loader runs in the orchestrating process and on every Dask worker, so a
plugin whose source changed (hot reload) is imported afresh everywhere, keyed by
the hash of its source files.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()
_loaded: dict[tuple[str, str], ModuleType] = {}
plugin_dirs: set[str] = set()     # folders this process put on sys.path for plugins


@dataclass(frozen=True)
class PluginRef:
    """Where a plugin's code is: a folder (`path`) or an importable `module` name."""

    plugin_id: str
    module: str
    path: str | None = None
    source_hash: str = ""


def source_hash(folder: Path) -> str:
    """sha256 over every .py file of a plugin, in a stable order (its version identity)."""
    digest = hashlib.sha256()
    files = [folder] if folder.is_file() else sorted(folder.rglob("*.py"))
    for file in files:
        if "__pycache__" in file.parts:
            continue
        digest.update(str(file.relative_to(folder.parent)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _forget_package(name: str) -> None:
    for module_name in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module_name]


def _import_folder(name: str, folder: Path) -> ModuleType:
    """Import `folder/__init__.py` as top-level package `name` (fresh each call)."""
    parent = str(folder.parent)
    plugin_dirs.add(parent)
    if parent not in sys.path:
        sys.path.append(parent)     # lets plugins import their siblings' helpers
    _forget_package(name)
    # A rewrite within the same second and size would otherwise reuse stale bytecode.
    for cache in folder.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def import_plugin(ref: PluginRef) -> ModuleType:
    """The plugin's module at this source version, importing it at most once."""
    key = (ref.path or ref.module, ref.source_hash)
    with _lock:
        module = _loaded.get(key)
        if module is None:
            if ref.path:
                module = _import_folder(ref.module, Path(ref.path))
            else:
                module_name, _, attribute = ref.module.partition(":")
                module = importlib.import_module(module_name)
                module = getattr(module, attribute) if attribute else module
            _loaded[key] = module
        return module


def forget(ref: PluginRef) -> None:
    """Drop every cached version of a plugin (used by hot reload)."""
    with _lock:
        for key in [k for k in _loaded if k[0] == (ref.path or ref.module)]:
            del _loaded[key]
