"""One run as its page shows it: the run record and its tasks, read from the store
(`get_run`: the run and its tasks, two queries) and then kept current by the run's
events while it runs in this process — no query per event."""
from __future__ import annotations

from dataflow.errors import RunNotFound
from dataflow.statuses import ACTIVE_RUN_STATUSES, FINAL_TASK_STATUSES, TaskStatus
from dataflow.store.history import get_run

from dashboards.formats import as_utc

EVENT_FIELDS = ("status", "error", "traceback", "worker", "stops_pipeline", "attempts",
                "reused")


def task_id(task: dict) -> str:
    return f"{task['hook']}.{task['plugin']}"


class RunModel:
    """The run record (`run`) and its tasks by task id (`tasks`, in hook order)."""

    def __init__(self, db, run_id: str):
        self.db, self.requested = db, run_id
        self.run: dict = {}
        self.tasks: dict[str, dict] = {}
        self.missing = False

    @property
    def run_id(self) -> str:
        return self.run.get("_id", self.requested)

    @property
    def running(self) -> bool:
        return self.run.get("status") in ACTIVE_RUN_STATUSES

    @property
    def hooks(self) -> list[str]:
        hooks = list(self.run.get("hooks") or [])
        for task in self.tasks.values():
            if task["hook"] not in hooks:
                hooks.append(task["hook"])
        return hooks

    def load(self) -> bool:
        """Read the run and its tasks again; False when there is no such run."""
        try:
            run = get_run(self.db, self.requested)
        except RunNotFound:
            self.missing = True
            return False
        self.missing = False
        tasks = run.pop("tasks")
        self.run = run
        self.tasks = {task_id(task): task for task in tasks}
        return True

    def apply(self, events: list[dict]) -> bool:
        """Task events of this run, applied in order; True if anything changed."""
        changed = False
        for event in events:
            key = event.get("task_id")
            task = self.tasks.get(key) if key is not None else None
            kind = event.get("kind")
            if task is None or kind == "log":
                continue
            if kind == "task_started" and task.get("status") not in FINAL_TASK_STATUSES:
                task.update(status=TaskStatus.RUNNING, started=as_utc(event.get("started")),
                            worker=event.get("worker"))
            elif kind == "task_finished":
                task.update({key: event.get(key) for key in EVENT_FIELDS if key in event})
                task["started"] = as_utc(event.get("started")) or task.get("started")
                task["finished"] = as_utc(event.get("finished"))
                if task["started"] and task["finished"]:
                    task["duration"] = (task["finished"] - task["started"]).total_seconds()
            elif kind == "progress":
                task["progress"] = {"done": event.get("done"), "total": event.get("total")}
            else:
                continue
            changed = True
        return changed

    def plugins(self) -> list[str]:
        return sorted({task["plugin"] for task in self.tasks.values()})

    def first_error(self) -> tuple[str, dict] | None:
        """(task id, task) of the first task, in hook order, that has an error."""
        for key, task in self.tasks.items():
            if task.get("error") and task.get("status") != TaskStatus.COMPLETED:
                return key, task
        return None
