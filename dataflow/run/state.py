"""Follows one run through its events: records history, informs listeners, knows when it ends."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dataflow.statuses import FAILED_TASK_STATUSES, FINAL_TASK_STATUSES, RunStatus, TaskStatus

if TYPE_CHECKING:
    from dataflow.model import RunPlan
    from dataflow.run.log_file import LogFile
    from dataflow.store.recorder import Recorder



def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, timezone.utc) if epoch else None


def run_status(tasks: dict, cancel_requested: bool) -> str:
    statuses = [task["status"] for task in tasks.values()]
    if cancel_requested and TaskStatus.CANCELLED in statuses:
        return RunStatus.CANCELLED
    if any(task.get("stops_pipeline") and task["status"] in FAILED_TASK_STATUSES
           for task in tasks.values()):      # failed, timed out, or so and rolled back
        return RunStatus.FAILED
    if any(status in FAILED_TASK_STATUSES or status == TaskStatus.CANCELLED for status in statuses):
        return RunStatus.COMPLETED_WITH_ERRORS
    return RunStatus.COMPLETED


def _extras(event: dict) -> dict:
    """What a finished task adds to its record: attempts, checkpoint, reuse, output summary."""
    extras = {key: event[key] for key in ("checkpoint", "reused", "cache_key", "output_summary",
                                          "writes", "rollback", "stream")
              if event.get(key) is not None}
    if event.get("attempts"):
        extras["attempts"] = [{**a, "started": _when(a["started"]), "finished": _when(a["finished"])}
                              for a in event["attempts"]]
    return extras


class RunState:
    """State of one run as its events arrive (from the Dask client's event thread)."""

    def __init__(self, run_id: str, plan: RunPlan, recorder: Recorder,
                 listeners: Iterable[Callable[[dict], None]] = (),
                 log_file: LogFile | None = None):
        self.run_id, self.plan, self.recorder = run_id, plan, recorder
        self.log_file = log_file
        self.listeners = list(listeners)
        self.tasks: dict[str, dict[str, Any]] = {
            t.task_id: {"status": TaskStatus.PENDING, "hook": t.hook, "plugin": t.plugin}
            for t in plan.tasks}
        self.cancel_requested = False
        self.cancelled_plugins: set = set()
        self._log_seq = 0
        self._changed = threading.Condition()

    def _task_doc_id(self, task_id: str) -> str:
        return f"{self.run_id}:{task_id}"

    def handle(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "task_started":
            self._started(event)
        elif kind == "task_finished":
            self._finished(event)
        elif kind == "log":
            self._log(event)
        elif kind == "progress":
            self._progress(event)
        for listener in self.listeners:
            listener(event)

    def _started(self, event: dict) -> None:
        with self._changed:
            state = self.tasks[event["task_id"]]
            if state["status"] in FINAL_TASK_STATUSES:
                return
            state.update(status=TaskStatus.RUNNING, started=event["started"])
        self.recorder.record("tasks", self._task_doc_id(event["task_id"]), {
            "status": TaskStatus.RUNNING, "started": _when(event["started"]), "worker": event.get("worker")})

    def _finished(self, event: dict) -> None:
        with self._changed:
            self.tasks[event["task_id"]].update(event)
            self._changed.notify_all()
        started, finished = event.get("started"), event.get("finished")
        self.recorder.record("tasks", self._task_doc_id(event["task_id"]), {
            "status": event["status"], "started": _when(started), "finished": _when(finished),
            "duration": round(finished - started, 4) if started and finished else None,
            "error": event.get("error"), "traceback": event.get("traceback"),
            "worker": event.get("worker"), "stops_pipeline": event.get("stops_pipeline"),
            **_extras(event)})

    def _progress(self, event: dict) -> None:
        progress = {"done": event["done"], "total": event["total"],   # + a stream's rows
                    **{k: v for k, v in event.items() if k.startswith(("rows_", "chunks_"))}}
        with self._changed:
            state = self.tasks.get(event["task_id"])
            if state is None:
                return
            state["progress"] = progress
        self.recorder.record("tasks", self._task_doc_id(event["task_id"]), {"progress": progress})

    def _log(self, event: dict) -> None:
        self._log_seq += 1
        record = {k: event[k] for k in ("pipeline", "hook", "plugin", "level", "message", "fields")}
        self.recorder.append("logs", f"{self.run_id}:{self._log_seq:07d}",
                             {**record, "run_id": self.run_id, "seq": self._log_seq,
                              "time": datetime.fromisoformat(event["time"])})
        if self.log_file is not None:
            self.log_file.write(event)

    def unfinished(self) -> list[str]:
        with self._changed:
            return [tid for tid, t in self.tasks.items() if t["status"] not in FINAL_TASK_STATUSES]

    def wait_finished(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not any(
                t["status"] not in FINAL_TASK_STATUSES for t in self.tasks.values()), timeout)

    def status(self) -> str:
        with self._changed:
            return run_status(self.tasks, self.cancel_requested)

    def counts(self) -> dict:
        counts: dict[str, int] = {}
        with self._changed:
            for task in self.tasks.values():
                counts[task["status"]] = counts.get(task["status"], 0) + 1
        return counts

    def first_error(self) -> str | None:
        with self._changed:
            for task_id, task in self.tasks.items():
                if task["status"] != TaskStatus.COMPLETED and task.get("error"):
                    return f"{task_id}: {task['error']}"
        return None
