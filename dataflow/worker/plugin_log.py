"""The UnifiedLogger a plugin gets as `context["services"]["log"]`.

Each call makes one structured record (time, level, run, pipeline, hook, plugin,
message, extra fields) and sends it to the orchestrator as an event, which
stores it, echoes it and alerts on it. `fatal` also stops the pipeline.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING

from dataflow.errors import FatalError
from dataflow.log_levels import LEVELS
from dataflow.events import current_worker, emit

if TYPE_CHECKING:
    from dataflow.model import RunEnv



def log_record(env: RunEnv, hook: str, plugin: str, level: str, message: str, fields: dict) -> dict:
    return {"kind": "log", "run_id": env.run_id, "pipeline": env.pipeline, "hook": hook,
            "plugin": plugin, "level": level, "message": str(message),
            "time": datetime.now(timezone.utc).isoformat(), "fields": _plain(fields)}


def _plain(fields: dict) -> dict:
    """Extra fields as JSON values: lists and mappings kept, times in ISO 8601, numpy
    scalars as numbers (anything else becomes its repr)."""
    return {str(key): _json_value(value) for key, value in fields.items()}


def _json_value(value, depth: int = 0):
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if depth < 8 and isinstance(value, Mapping):
        return {str(key): _json_value(item, depth + 1) for key, item in value.items()}
    if depth < 8 and isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(item, depth + 1) for item in value]
    if hasattr(value, "item") and callable(value.item):    # numpy and pandas scalars
        try:
            return _json_value(value.item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return repr(value)


class PluginLogger:
    """debug / info / warning / error / fatal for one plugin task."""

    def __init__(self, env: RunEnv, hook: str, plugin: str):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._threshold = LEVELS.get(env.log_level, 20)
        self._worker = current_worker()     # so threads the plugin starts can log too

    def record(self, level: str, message, fields: dict) -> None:
        """One structured record at `level` (DEBUG, INFO, WARNING, ERROR, FATAL)."""
        if LEVELS[level] < self._threshold:
            return
        emit(log_record(self._env, self._hook, self._plugin, level, message, fields),
             worker=self._worker)


    def debug(self, message, **fields) -> None:
        self.record("DEBUG", message, fields)

    def info(self, message, **fields) -> None:
        self.record("INFO", message, fields)

    def warning(self, message, **fields) -> None:
        self.record("WARNING", message, fields)

    warn = warning

    def error(self, message, **fields) -> None:
        self.record("ERROR", message, fields)

    def fatal(self, message, **fields) -> None:
        """Record a FATAL message and stop the pipeline (raises FatalError)."""
        self.record("FATAL", message, fields)
        raise FatalError(str(message))

    critical = fatal
