"""The plugin registry: discovery from folders and entry points, lookup, hot reload.

A plugin that fails to load is reported (its file and exception) and the others
still load; `broken` keeps what its source declares (PLUGIN_NAME, HOOKS, PIPELINES, read
without importing it) so that only the pipelines it serves are refused. Two plugins with
one PLUGIN_NAME are both reported.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import traceback
from dataclasses import replace
from pathlib import Path

from dataflow.errors import PluginNotFound, Problem
from dataflow.plugins.command_plugin import COMMANDS_FILE, read_commands
from dataflow.plugins.contract import (PluginInfo, declared_constants, plugin_config_ui,
                                      plugin_metadata, read_plugin)
from dataflow.plugins.loader import (PluginRef, folder_ref, forget, import_plugin, plugin_dirs,
                                     source_hash)

ENTRY_POINT_GROUP = "dataflow.plugins"
_started: dict[str, set[str]] = {}      # on_load was called for these source versions


def _error_location(error: BaseException) -> str:
    """Where the import failed: the offending line of a syntax error, else the last
    frame in a real file (not the import machinery's frozen modules)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f" (at {error.filename}:{error.lineno})"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<")]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _load_problem(where: str, error: BaseException) -> Problem:
    fix = "fix the error in the plugin's code, then run `dataflow validate`"
    if isinstance(error, ModuleNotFoundError) and error.name:
        fix = f"install the missing module {error.name!r} in this environment, or stop importing it"
    return Problem(where, "", f"plugin failed to import: {type(error).__name__}: {error}"
                   f"{_error_location(error)}", fix)


def _shadowing_problem(folder: Path, shown: str) -> Problem | None:
    """A plugin folder named like a module Python already has would replace it."""
    name = folder.name
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    origin = str(spec.origin) if spec is not None and spec.origin else ""
    elsewhere = bool(origin) and not any(origin.startswith(d + os.sep) for d in plugin_dirs)
    if name in sys.stdlib_module_names or elsewhere:
        return Problem(shown, "", f"plugin folder {name!r} has the name of the Python module "
                       f"{name!r}; loading it would replace that module",
                       "rename the folder (PLUGIN_NAME may stay as it is)")
    return None


def _folder_candidates(project_dir: Path, paths) -> list[tuple[Path, str]]:
    found = []
    for configured in paths:
        base = (project_dir / configured).resolve()
        for folder in sorted(base.glob("*/__init__.py")) if base.is_dir() else []:
            shown = f"{configured.rstrip('/')}/{folder.parent.name}/__init__.py"
            found.append((folder.parent, shown))
    return found


def _call_lifecycle(module, name: str, where: str) -> list[Problem]:
    """Call a plugin's optional on_load/on_shutdown; a failure is a Problem, not a crash."""
    function = getattr(module, name, None)
    if not callable(function):
        return []
    try:
        function()
    except Exception as error:
        return [Problem(where, name, f"{name}() failed: {type(error).__name__}: {error}",
                        f"fix the plugin's {name}()")]
    return []


def _load(ref: PluginRef, origin: str, where: str):
    try:
        module = import_plugin(ref)
    except Exception as error:        # a broken plugin must not stop discovery
        return None, [_load_problem(where, error)]
    info, problems = read_plugin(module, ref, origin, where)
    if info is not None and ref.source_hash not in _started.setdefault(where, set()):
        _started[where].add(ref.source_hash)
        problems = problems + _call_lifecycle(module, "on_load", where)
        if problems:      # not started: the next load calls on_load again
            _started[where].discard(ref.source_hash)
    return (None if problems else info), problems


def _last_good(problems: list[Problem], info: PluginInfo) -> list[Problem]:
    """The new version's problems, as warnings: the version loaded before keeps serving."""
    return [replace(problem, warning=True, message=f"{problem.message}; serving the last "
                    f"good version {info.ref.source_hash} until it is fixed")
            for problem in problems]


def _shut_down(info: PluginInfo, where: str) -> list[Problem]:
    """on_shutdown of a version that is replaced; its module is dropped from the cache."""
    problems = _call_lifecycle(import_plugin(info.ref), "on_shutdown", where)
    _started.get(where, set()).discard(info.ref.source_hash)
    forget(info.ref, every_version=False)
    return problems


class PluginRegistry:
    """All plugins of a project by id, plus the problems met while finding them."""

    def __init__(self, project_dir: Path, plugin_paths=("plugins",), entry_points=True):
        self.project_dir = Path(project_dir)
        self.plugin_paths = tuple(plugin_paths)
        self.use_entry_points = entry_points
        self.plugins: dict[str, PluginInfo] = {}
        self.problems: list[Problem] = []
        self.where: dict[str, str] = {}
        self.broken: dict[str, dict] = {}     # file shown in its problems → its constants
        self.discover()

    def _candidates(self, problems: list):
        bases = [(self.project_dir / path).resolve() for path in self.plugin_paths]
        for folder, shown in _folder_candidates(self.project_dir, self.plugin_paths):
            shadowing = _shadowing_problem(folder, shown)
            if shadowing is not None:
                problems.append(shadowing)
                continue
            ref = folder_ref(folder, [folder.parent, *bases])
            yield ref, f"folder {shown.rsplit('/', 1)[0]}", shown
        if not self.use_entry_points:
            return
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            package = point.dist.name if point.dist else point.value
            yield PluginRef("", point.value, None, _entry_point_hash(point)), \
                f"entry point {package}", f"entry point {point.name} = {point.value}"

    def discover(self, previous: dict[str, PluginInfo] | None = None) -> None:
        """Find and load every plugin. `previous` (file shown → the version loaded from it
        before): a plugin whose new code fails keeps that version serving."""
        plugins: dict[str, PluginInfo] = {}
        problems: list[Problem] = []
        where: dict[str, str] = {}
        broken: dict[str, dict] = {}
        for ref, origin, shown in self._candidates(problems):
            info, found = _load(ref, origin, shown)
            last_good = (previous or {}).get(shown)
            if info is None and last_good is not None:
                info, found = last_good, _last_good(found, last_good)
            problems += found
            if info is None:
                broken[shown] = declared_constants(Path(ref.path) / "__init__.py") \
                    if ref.path else {}
                continue
            if info.id in plugins:
                problems.append(Problem(
                    shown, "PLUGIN_NAME", f"PLUGIN_NAME {info.id!r} is already used by "
                    f"{where[info.id]}", "give each plugin a unique PLUGIN_NAME"))
                continue
            plugins[info.id], where[info.id] = info, shown
        commands, found = read_commands(self.project_dir, where)    # config/commands.yaml
        plugins, problems = {**plugins, **commands}, problems + found
        where.update({plugin_id: COMMANDS_FILE for plugin_id in commands})
        self.plugins, self.problems, self.where = plugins, problems, where
        self.broken = broken

    def reload(self) -> list[str]:
        """Re-read every plugin (hot reload); returns the ids whose version changed.

        A changed plugin's new version is imported and its on_load called, then the old
        version's on_shutdown; an unchanged one keeps its module (and its state). A plugin
        whose new code fails keeps its last good version serving, its error a warning in
        `problems` (runs go on with that version) until it is fixed."""
        before, old_where = dict(self.plugins), dict(self.where)
        self.discover({old_where[pid]: info for pid, info in before.items()})
        ended: list[Problem] = []
        for pid, old in before.items():
            now = self.plugins.get(pid)
            if now is None or now.ref != old.ref:
                ended += _shut_down(old, old_where[pid])
        self.problems += ended
        return sorted(pid for pid, info in self.plugins.items()
                      if pid not in before or before[pid].ref != info.ref)

    def serving_last_good(self, plugin_id: str) -> list[Problem]:
        """Why the plugin serves its last good version (its new code's errors), if it does."""
        shown = self.where.get(plugin_id)
        return [problem for problem in self.problems if problem.file == shown
                and problem.warning and "serving the last good version" in problem.message]

    def shutdown(self) -> None:
        """Call every loaded plugin's on_shutdown (at the end of a process's use)."""
        for plugin_id, info in self.plugins.items():
            _call_lifecycle(import_plugin(info.ref), "on_shutdown", self.where[plugin_id])
            _started.get(self.where[plugin_id], set()).discard(info.ref.source_hash)

    def get(self, plugin_id: str) -> PluginInfo:
        try:
            return self.plugins[plugin_id]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise PluginNotFound(plugin_id, f"(known: {known})", self.plugins) from None

    def module(self, plugin_id: str):
        return import_plugin(self.get(plugin_id).ref)

    def describe(self, plugin_id: str) -> dict:
        """What the control panel shows of a plugin: its summary, CONFIG_SCHEMA, `metadata`
        (get_metadata()) and `config_ui` (get_config_ui(), else a form from CONFIG_SCHEMA).
        A plugin function that raises or returns the wrong type is reported under
        `metadata_error` / `config_ui_error`; only an unknown id raises (PluginNotFound)."""
        info = self.get(plugin_id)
        module = import_plugin(info.ref)
        return {**info.summary(), "config_schema": info.config_schema,
                **plugin_metadata(module), **plugin_config_ui(module, info.config_schema)}

    def select(self, tag: str | None = None, pipeline: str | None = None) -> list[PluginInfo]:
        chosen = [info for info in self.plugins.values()
                  if (tag is None or tag in info.tags)
                  and (pipeline is None or info.runs_in(pipeline))]
        return sorted(chosen, key=lambda info: info.id)


def _entry_point_hash(point) -> str:
    try:
        spec = importlib.util.find_spec(point.module)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not Path(spec.origin).exists():
        return ""
    origin = Path(spec.origin)
    return source_hash(origin.parent if origin.name == "__init__.py" else origin)
