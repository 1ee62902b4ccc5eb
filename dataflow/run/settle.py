"""Settle tasks whose end event never arrived: ask their futures instead.

A worker killed mid-task, a task cancelled before it started, or an event lost
with a worker: the future still knows how the task ended.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dataflow.statuses import TaskStatus

if TYPE_CHECKING:
    from distributed import Client, Future

    from dataflow.model import Outcome
    from dataflow.run.result import RunHandle


def _outcome_meta(outcome: Outcome) -> dict:
    return outcome.meta()


def _synthetic_end(handle: RunHandle, task_id: str, future: Future) -> dict | None:
    task = handle.state.tasks[task_id]
    event = {"kind": "task_finished", "run_id": handle.run_id, "task_id": task_id,
             "hook": task["hook"], "plugin": task["plugin"], "started": task.get("started"),
             "finished": time.time()}
    if future.status == "error":
        error = future.exception()
        return {**event, "status": TaskStatus.FAILED, "error": f"{type(error).__name__}: {error}",
                "traceback": None, "stops_pipeline": False}
    if future.status == TaskStatus.CANCELLED:     # a future's own status word
        return {**event, "status": TaskStatus.CANCELLED, "error": "cancelled before it finished", "stops_pipeline": False}
    return None


def reconcile(client: Client, handle: RunHandle, settled_only: bool = False) -> None:
    """Give every unfinished task of `handle` its final status.

    `settled_only`: only tasks whose futures erred or were cancelled (no event will
    come for those, so there is no reason to wait for one).
    """
    for task_id in handle.state.unfinished():
        future = handle.futures[task_id]
        event = _synthetic_end(handle, task_id, future)
        if event is None and settled_only:
            continue
        if event is None:          # finished, but its event is late or lost
            meta = client.submit(_outcome_meta, future, pure=False).result()
            event = {"kind": "task_finished", "run_id": handle.run_id, "task_id": task_id, **meta}
        handle.state.handle(event)
