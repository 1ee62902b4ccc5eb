"""Two runs compared: per task status, duration and outcome; config and plugin-version
differences; each run's first error. Plain data from two `get_run` records, so the
compare page only lays it out."""
from __future__ import annotations

from dataclasses import dataclass, field

from dashboards.run_model import task_id
from dataflow.statuses import TaskStatus

MISSING = object()


def flatten(value, prefix: str = "") -> dict:
    """{"a.b": leaf} of nested mappings (lists are leaves)."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    flat: dict = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    if not value and prefix:
        flat[prefix] = {}
    return flat


@dataclass
class TaskPair:
    task: str
    a: dict | None
    b: dict | None
    config_changes: list[tuple[str, object, object]] = field(default_factory=list)

    @property
    def status_differs(self) -> bool:
        return (self.a or {}).get("status") != (self.b or {}).get("status")

    @property
    def version_differs(self) -> bool:
        keys = ("plugin_version", "source_hash")
        return any((self.a or {}).get(k) != (self.b or {}).get(k) for k in keys)

    @property
    def duration_change(self) -> float | None:
        first, second = (self.a or {}).get("duration"), (self.b or {}).get("duration")
        return None if first is None or second is None else second - first


def config_changes(a: dict | None, b: dict | None) -> list[tuple[str, object, object]]:
    """(field, value in A, value in B) for every config field that differs."""
    first, second = flatten((a or {}).get("config") or {}), flatten((b or {}).get("config") or {})
    return [(key, first.get(key, MISSING), second.get(key, MISSING))
            for key in sorted(set(first) | set(second))
            if first.get(key, MISSING) != second.get(key, MISSING)]


def first_error(run: dict) -> tuple[str, str] | None:
    for task in run.get("tasks", []):
        if task.get("error") and task.get("status") != TaskStatus.COMPLETED:
            return task_id(task), str(task["error"])
    return (("run", str(run["error"])) if run.get("error") else None)


def compare_runs(a: dict, b: dict) -> list[TaskPair]:
    """Task pairs in hook order (A's order, then tasks only B has)."""
    first = {task_id(task): task for task in a.get("tasks", [])}
    second = {task_id(task): task for task in b.get("tasks", [])}
    order = list(first) + [key for key in second if key not in first]
    return [TaskPair(key, first.get(key), second.get(key),
                     config_changes(first.get(key), second.get(key))) for key in order]
