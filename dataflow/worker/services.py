"""The services a plugin gets in `context["services"]`: config, db, jobs, log.

They are built lazily in the process where the plugin runs (a Dask worker),
from a `RunEnv` that pickles; connections are opened once per process. The db service
rides out a store restart (worker/db_retry.py).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dataflow.worker.db_retry import retrying_database
from dataflow.worker.jobs import JobScheduler
from dataflow.worker.plugin_log import PluginLogger
from dataflow.worker.write_journal import journaled
from dataflow.model import RunEnv
from dataflow.project import Project

SERVICE_NAMES = ("config", "db", "jobs", "log")


class Services(Mapping):
    """A mapping of lazily built services for one plugin task."""

    def __init__(self, env: RunEnv, hook: str, plugin: str):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._built: dict = {}

    def __reduce__(self):
        return (Services, (self._env, self._hook, self._plugin))

    def __getitem__(self, name: str) -> Any:
        if name not in SERVICE_NAMES:
            raise KeyError(f"no service {name!r}; services are {', '.join(SERVICE_NAMES)}")
        if name not in self._built:
            self._built[name] = _BUILDERS[name](self._env, self._hook, self._plugin)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(SERVICE_NAMES)

    def __len__(self) -> int:
        return len(SERVICE_NAMES)

    def built(self, name: str) -> Any:
        """The service if the plugin used it, else None (nothing is built)."""
        return self._built.get(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(str(error)) from None


def _build_db(env: RunEnv, hook: str, plugin: str):
    """The plugins' data database; a call the store drops (restart) is retried; a plugin's
    WRITES are journaled for rollback (worker/write_journal.py)."""
    return journaled(env, plugin, retrying_database(env.store))


def _build_config(env: RunEnv, hook: str, plugin: str):
    return Project(env.project_dir, store=env.store).config     # the run's store


def _build_jobs(env: RunEnv, hook: str, plugin: str):
    return JobScheduler(env, hook, plugin)


def _build_log(env: RunEnv, hook: str, plugin: str):
    return PluginLogger(env, hook, plugin)


_BUILDERS = {"config": _build_config, "db": _build_db, "jobs": _build_jobs, "log": _build_log}
