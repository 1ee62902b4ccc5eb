"""What one plugin task produced: its status, its output, and why, if it failed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Task statuses. A run's status is derived from its tasks' (see engine).
PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"
SKIPPED, CANCELLED, TIMED_OUT = "skipped", "cancelled", "timed_out"
FINAL_TASK_STATUSES = (COMPLETED, FAILED, SKIPPED, CANCELLED, TIMED_OUT)


@dataclass
class Outcome:
    """Returned by a task on the worker; downstream tasks read `output` from it."""

    plugin: str
    hook: str
    status: str
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    stops_pipeline: bool = False          # a fail-hard failure or a fatal log
    started: float | None = None
    finished: float | None = None
    worker: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    def meta(self) -> dict:
        """Everything but the output: what the history and the CLI need."""
        return {"plugin": self.plugin, "hook": self.hook, "status": self.status,
                "error": self.error, "traceback": self.traceback,
                "stops_pipeline": self.stops_pipeline, "started": self.started,
                "finished": self.finished, "worker": self.worker, **self.extra}
