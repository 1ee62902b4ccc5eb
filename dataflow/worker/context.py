"""The context handed to `plugin.run(context, config)`: a mapping with attribute access.

Code written to spec 000 uses `context["services"]["jobs"]`; newer code may write
`context.services.jobs`. It pickles: services rebuild themselves where it lands.

Deprecated: `context["dry_run"]` is always False and kept only so plugins written to
the old contract keep working. `dataflow run --dry-run` plans the run and runs no
plugin code, so a plugin never runs in a dry run; do not branch on it.
"""
from __future__ import annotations

from collections.abc import Mapping

from dataflow.worker.cancel_flags import is_cancelled
from dataflow.model import RunEnv
from dataflow.worker.services import Services

KEYS = ("run_id", "start_time", "pipeline", "hook", "plugin", "inputs", "priority", "trigger",
        "logical_time", "services")
# Still readable (and iterated, so dict(context) keeps it) but no longer documented.
DEPRECATED = {"dry_run": False}


class Context(Mapping):
    """Everything one plugin task knows about its run."""

    def __init__(self, env: RunEnv, hook: str, plugin: str, inputs: dict):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._inputs = inputs
        self._services = Services(env, hook, plugin)

    def __reduce__(self):
        return (Context, (self._env, self._hook, self._plugin, self._inputs))

    def __getitem__(self, key: str):
        values = {
            "run_id": self._env.run_id, "start_time": self._env.start_time,
            "pipeline": self._env.pipeline, "hook": self._hook, "plugin": self._plugin,
            "inputs": self._inputs, "priority": self._env.priority,
            "trigger": self._env.trigger, "logical_time": self._env.logical_time,
            "services": self._services, **DEPRECATED}
        return values[key]

    def __iter__(self):
        return iter((*KEYS, *DEPRECATED))

    def __len__(self) -> int:
        return len(KEYS) + len(DEPRECATED)

    def __getattr__(self, key: str):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"context has no {key!r}; it has {', '.join(KEYS)}") from None

    def cancelled(self) -> bool:
        """True once a cancel of this run or this plugin was requested: stop soon."""
        return is_cancelled(self._env.run_id, self._plugin)

    def __repr__(self) -> str:
        return (f"Context(run_id={self._env.run_id!r}, pipeline={self._env.pipeline!r}, "
                f"hook={self._hook!r}, plugin={self._plugin!r}, inputs={list(self._inputs)})")
