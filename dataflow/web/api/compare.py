"""Two runs side by side (as `history.get_run` returns them): per task its status, duration
and outcome in each, the config fields and plugin versions that differ, the first errors."""
from __future__ import annotations

from dataflow.statuses import TaskStatus

MISSING = None


def _flatten(config, prefix: str = "") -> dict:
    """{dotted.field: value} of nested mappings (lists and scalars are leaves)."""
    if not isinstance(config, dict) or (prefix and not config):
        return {prefix: config} if prefix else {}
    flat = {}
    for key, value in config.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _task_key(task: dict) -> str:
    return f"{task.get('hook')}.{task.get('plugin')}"


def _side(task: dict | None) -> dict | None:
    if task is None:
        return None
    error = task.get("error")
    return {"status": task.get("status"), "duration": task.get("duration"),
            "outcome": (error.splitlines()[0] if error else None),
            "plugin_version": task.get("plugin_version")}


def _config_changes(key: str, a: dict | None, b: dict | None) -> list[dict]:
    flat_a = _flatten((a or {}).get("config") or {})
    flat_b = _flatten((b or {}).get("config") or {})
    return [{"task": key, "field": field, "a": flat_a.get(field, MISSING),
             "b": flat_b.get(field, MISSING)}
            for field in sorted(set(flat_a) | set(flat_b))
            if flat_a.get(field, MISSING) != flat_b.get(field, MISSING)
            or (field in flat_a) != (field in flat_b)]


def _summary(run: dict) -> dict:
    return {key: run.get(key) for key in ("_id", "pipeline", "status", "trigger", "started",
                                          "finished", "duration", "counts", "error")}


def _first_error(run: dict) -> dict | None:
    for task in run.get("tasks", []):
        if task.get("status") != TaskStatus.COMPLETED and task.get("error"):
            return {"task": _task_key(task), "status": task.get("status"),
                    "error": task["error"].splitlines()[0]}
    return {"task": None, "status": run.get("status"), "error": run["error"]} \
        if run.get("error") else None


def compare_runs(a: dict, b: dict) -> dict:
    tasks_a = {_task_key(task): task for task in a.get("tasks", [])}
    tasks_b = {_task_key(task): task for task in b.get("tasks", [])}
    keys = list(tasks_a) + [key for key in tasks_b if key not in tasks_a]
    tasks, config, versions = [], [], []
    for key in keys:
        one, other = tasks_a.get(key), tasks_b.get(key)
        side_a, side_b = _side(one), _side(other)
        tasks.append({"task": key, "a": side_a, "b": side_b,
                      "same_status": bool(side_a and side_b
                                          and side_a["status"] == side_b["status"])})
        config += _config_changes(key, one, other)
        version_a, version_b = (side_a or {}).get("plugin_version"), \
            (side_b or {}).get("plugin_version")
        if one and other and version_a != version_b:
            versions.append({"task": key, "a": version_a, "b": version_b})
    duration_a, duration_b = a.get("duration"), b.get("duration")
    return {"a": _summary(a), "b": _summary(b), "tasks": tasks, "config": config,
            "plugin_versions": versions,
            "duration_change": (duration_b - duration_a
                                if duration_a is not None and duration_b is not None else None),
            "first_error": {"a": _first_error(a), "b": _first_error(b)}}
