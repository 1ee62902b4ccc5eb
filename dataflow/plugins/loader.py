"""Import plugin modules from folders or installed packages, once per source version.

The same loader runs in the orchestrating process and on every Dask worker, so a
plugin whose source changed (hot reload) is imported afresh everywhere, keyed by
the hash of its source files. A worker imports the plugin's folder when it holds that
very version, else the copy shipped for the hash (plugins/shipping.py).

Plugins may share code: `bar_rebuilder` does `from ohlcv_aggregator.bars import ...`.
Such a *shared module* (a folder or .py file beside the plugin, or in another plugin
folder, named by an absolute import in the plugin's code, found statically and
transitively) is part of the plugin's source: its files are in the plugin's hash,
it is imported afresh, from that exact place, whenever the plugin is, and the jobs the
plugin submits carry it by value.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cloudpickle

from dataflow.plugins.shipping import local_ref, python_files, remember, snapshot

_lock = threading.Lock()
_loaded: dict[tuple[str, str], ModuleType] = {}
plugin_dirs: set[str] = set()     # folders this process put on sys.path for plugins


@dataclass(frozen=True)
class PluginRef:
    """Where a plugin's code is: a folder (`path`) or an importable `module` name.

    `shared`: the paths of the shared modules it imports (folders or .py files),
    each after the shared modules it imports itself.
    """

    plugin_id: str
    module: str
    path: str | None = None
    source_hash: str = ""
    shared: tuple[str, ...] = ()


def imported_names(file: Path) -> set[str]:
    """Every module name of the absolute imports in a file, anywhere in it (`from dask
    import dataframe` gives dask and dask.dataframe; a name imported from a module that
    is not a module itself is harmless here)."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (SyntaxError, ValueError):
        return set()          # importing it reports the error
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imported_top_names(file: Path) -> set[str]:
    """Top-level names of the absolute imports in a file (anywhere in it)."""
    return {name.split(".")[0] for name in imported_names(file)}


def _module_name(target: Path) -> str:
    return target.stem if target.is_file() else target.name


@functools.lru_cache(maxsize=1)
def _installed_names() -> frozenset[str]:
    return frozenset(importlib.metadata.packages_distributions())


def _sibling(name: str, search_dirs) -> Path | None:
    """The folder or .py file named `name` in the first search folder that has one.

    A name Python has elsewhere (the standard library, an installed package) is never
    a shared module: that import does not reach the plugin folders."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return None
    for folder in search_dirs:
        package, single = Path(folder) / name, Path(folder) / f"{name}.py"
        found = package if package.is_dir() and any(package.glob("*.py")) else \
            single if single.is_file() else None
        if found is not None:
            return None if name in _installed_names() else found
    return None


def shared_modules(target: Path, search_dirs) -> list[Path]:
    """The shared modules `target` imports, transitively, dependencies first."""
    order: list[Path] = []
    seen = {Path(target).resolve()}

    def visit(current: Path) -> None:
        names = set().union(*map(_imported_top_names, python_files(current)))
        for name in sorted(names - {_module_name(current)}):
            found = _sibling(name, search_dirs)
            if found is None or found.resolve() in seen:
                continue
            seen.add(found.resolve())
            visit(found)
            order.append(found)
    visit(Path(target))
    return order


def source_hash(target: Path, shared=()) -> str:
    """sha256 over every .py file of a plugin and of the shared modules it imports, in a
    stable order (its version identity)."""
    return snapshot((Path(target), *map(Path, shared)))[0]


def folder_ref(folder: Path, search_dirs) -> PluginRef:
    """The reference to a folder plugin; shared modules are looked for in `search_dirs`
    (the plugin's own plugin folder first, then the other configured ones). The files
    hashed are kept, to be shipped to workers exactly as read (plugins/shipping.py)."""
    shared = shared_modules(folder, search_dirs)
    parts = (folder, *shared)
    digest, files = snapshot(parts)
    remember(parts, files, digest)
    return PluginRef("", folder.name, str(folder), digest, tuple(str(path) for path in shared))


def _forget_package(name: str) -> dict[str, ModuleType]:
    """Take a package and its submodules out of sys.modules; returns them."""
    return {module_name: sys.modules.pop(module_name) for module_name in
            [m for m in sys.modules if m == name or m.startswith(name + ".")]}


def _spec_for(name: str, target: Path):
    if target.is_file():
        return importlib.util.spec_from_file_location(name, target)
    if (target / "__init__.py").is_file():
        return importlib.util.spec_from_file_location(
            name, target / "__init__.py", submodule_search_locations=[str(target)])
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)   # a namespace folder
    spec.submodule_search_locations = [str(target)]
    return spec


def _drop_bytecode(name: str, target: Path) -> None:
    """A rewrite within the same second and size would otherwise reuse stale bytecode."""
    if target.is_dir():
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        return
    for stale in (target.parent / "__pycache__").glob(f"{name}.*.pyc"):
        stale.unlink(missing_ok=True)


def _fresh_module(name: str, target: Path) -> ModuleType:
    """Import `target` (a package folder or a .py file) as top-level module `name`, anew."""
    parent = str(target.parent)
    plugin_dirs.add(parent)
    if parent not in sys.path:
        sys.path.append(parent)     # lets plugins import their siblings' helpers
    earlier = _forget_package(name)
    _drop_bytecode(name, target)
    spec = _spec_for(name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:       # the version imported before stays whole (last good)
        _forget_package(name)
        sys.modules.update(earlier)
        raise
    return module


def _import_folder(ref: PluginRef) -> ModuleType:
    """The shared modules it uses, then the plugin's own package, all imported anew.

    Shared modules go by value when cloudpickled (a job the plugin submits calling
    shared code), so a job runs the version the plugin was loaded with, not the copy
    the job's worker happens to have in sys.modules."""
    for shared in map(Path, ref.shared):
        cloudpickle.register_pickle_by_value(_fresh_module(_module_name(shared), shared))
    return _fresh_module(ref.module, Path(ref.path or ref.module))


def import_plugin(ref: PluginRef) -> ModuleType:
    """The plugin's module at this source version, importing it at most once."""
    key = (ref.path or ref.module, ref.source_hash)
    with _lock:
        module = _loaded.get(key)
        if module is None:
            if ref.path:
                module = _import_folder(local_ref(ref))
            else:
                module_name, _, attribute = ref.module.partition(":")
                module = importlib.import_module(module_name)
                module = getattr(module, attribute) if attribute else module
            _loaded[key] = module
        return module


def forget(ref: PluginRef, every_version: bool = True) -> None:
    """Drop the cached versions of a plugin (hot reload): all, or only `ref`'s."""
    with _lock:
        for key in [k for k in _loaded if k[0] == (ref.path or ref.module)
                    and (every_version or k[1] == ref.source_hash)]:
            del _loaded[key]
