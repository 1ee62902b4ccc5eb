"""A project directory: its settings, pipelines, plugins, store and config manager.

Everything is loaded lazily and once, so a command only pays for what it uses.
"""
from __future__ import annotations

import os
import threading
import weakref
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow.config.env_secrets import file_env_problems
from dataflow.config.manager import ConfigManager
from dataflow.errors import ConfigError, NotAProject
from dataflow.plugins.registry import PluginRegistry
from dataflow.config.settings import Settings, read_settings
from dataflow.run.interrupted import recover_interrupted
from dataflow.config.pipelines import PIPELINES_FILE, Pipeline, PipelinesFile, read_pipelines_file
from dataflow.store.connection import StoreAddress, connect_store, resolve_address
from dataflow.store.recorder import Recorder
from dataflow.store.schema import ensure_schema

if TYPE_CHECKING:
    from pymongo.database import Database

    from dataflow.config.yaml_file import YamlDocument


_open_projects: "weakref.WeakSet[Project]" = weakref.WeakSet()
_reload_lock = threading.RLock()


def close_all_projects() -> None:
    """Flush every project's pending history writes (before a fast process exit)."""
    for project in list(_open_projects):
        project.close()


def resolve_project_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """--project, else DATAFLOW_PROJECT, else the current directory."""
    chosen = directory or os.environ.get("DATAFLOW_PROJECT") or os.getcwd()
    return Path(chosen).expanduser().resolve()


def require_project(directory: Path) -> None:
    """Refuse a folder without config/pipelines.yaml, before anything is created there."""
    if not (directory / PIPELINES_FILE).is_file():
        raise NotAProject(
            f"no dataflow project at {directory} (it has no {PIPELINES_FILE}); nothing was "
            "created. Fix: run the command in a project folder, pass --project DIR or set "
            f"$DATAFLOW_PROJECT, or create {PIPELINES_FILE} there to make it one")


class Project:
    """The façade the CLI, the API, the notebooks and the engine share."""

    def __init__(self, directory: str | os.PathLike[str] | None = None,
                 store: StoreAddress | None = None):
        """`store`: use this store (e.g. a run's, on a Dask worker) instead of resolving one."""
        self.directory = resolve_project_dir(directory)
        if store is not None:
            self.__dict__["store_address"] = store
        _open_projects.add(self)

    @cached_property
    def _settings_read(self) -> tuple[Settings, YamlDocument, list]:
        return read_settings(self.directory)

    @cached_property
    def _pipelines_read(self) -> tuple[PipelinesFile, YamlDocument, list]:
        return read_pipelines_file(self.directory)

    @property
    def settings(self) -> Settings:
        settings, _, problems = self._settings_read
        if problems:
            raise ConfigError(problems)
        return settings

    @property
    def yaml_pipelines(self) -> PipelinesFile:
        """The pipelines of config/pipelines.yaml alone."""
        spec, _, problems = self._pipelines_read
        if problems:
            raise ConfigError(problems)
        return spec

    @property
    def pipelines_file(self) -> PipelinesFile:
        """YAML pipelines plus those stored in the database (read fresh each time);
        on a name both define, YAML wins and the stored one is ignored."""
        return self.config.pipelines_file()

    @property
    def pipelines(self) -> dict[str, Pipeline]:
        """Every pipeline that runs, by name (YAML and stored; read fresh each time)."""
        return self.pipelines_file.pipelines

    def file_problems(self) -> list:
        """system.yaml's and pipelines.yaml's problems (literal secrets in `env:` too)."""
        problems = self._settings_read[2] + self._pipelines_read[2]
        return problems or file_env_problems(self._settings_read[1], self._pipelines_read[1])

    @cached_property
    def registry(self) -> PluginRegistry:
        settings = self._settings_read[0]
        return PluginRegistry(self.directory, settings.plugin_paths, settings.entry_points)

    @cached_property
    def store_address(self) -> StoreAddress:
        """The store, reachable, its schema as found (no migrations applied)."""
        require_project(self.directory)
        return connect_store(resolve_address(self.directory, self.settings))

    @cached_property
    def store(self) -> StoreAddress:
        """The store with pending schema migrations applied and interrupted runs marked."""
        address = self.store_address
        ensure_schema(address.system_db())
        recover_interrupted(address.system_db())
        return address

    @property
    def db(self) -> Database[Any]:
        """dataflow's own database (runs, tasks, logs, configs)."""
        return self.store.system_db()

    @cached_property
    def recorder(self) -> Recorder:
        return Recorder(self.db)

    @cached_property
    def config(self) -> ConfigManager:
        return ConfigManager(self)

    def reload(self) -> list[str]:
        """Re-read YAML and plugins (hot reload); returns the plugins that changed. One
        reload at a time (the file watcher, the API and a notebook may all ask)."""
        with _reload_lock:
            for name in ("_settings_read", "_pipelines_read", "config"):
                self.__dict__.pop(name, None)
            return self.registry.reload()

    def close(self) -> None:
        if "registry" in self.__dict__:
            self.registry.shutdown()
            del self.__dict__["registry"]
        if "recorder" in self.__dict__:
            self.recorder.flush()
            self.recorder.close()
            del self.__dict__["recorder"]
