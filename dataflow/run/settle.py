"""Settle tasks whose end event never arrived: ask their futures instead.

A worker killed mid-task, a task cancelled before it started, or an event lost
with a worker: the future still knows how the task ended.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from distributed.scheduler import KilledWorker

from dataflow.statuses import TaskStatus

WORKER_DIED = "worker died"     # as worker/deaths.py says it

if TYPE_CHECKING:
    from distributed import Client, Future

    from dataflow.model import Outcome
    from dataflow.run.result import RunHandle


def _outcome_meta(outcome: Outcome) -> dict:
    return outcome.meta()


def _killed(handle: RunHandle, task_id: str, error: KilledWorker) -> dict:
    """Dask gave up on a task whose workers kept dying (its allowed-failures were used up
    before worker/deaths.py could record it): that task failed; its downstream tasks, which
    Dask errs with the same exception, did not run — skipped, or (no fail-hard plugin
    stopped the pipeline) failed because an input is missing."""
    by_key = {f.key: tid for tid, f in handle.futures.items()}
    culprit = by_key.get(error.task, task_id)
    planned = {task.task_id: task for task in handle.plan.tasks}
    if culprit == task_id:
        return {"status": TaskStatus.FAILED, "traceback": None,
                "stops_pipeline": planned[task_id].fail_hard,
                "error": f"{WORKER_DIED}: Dask gave up after its worker died "
                         f"{error.allowed_failures + 1} time(s)"}
    origin = planned[culprit]
    if origin.fail_hard:
        return {"status": TaskStatus.SKIPPED, "started": None, "stops_pipeline": True,
                "error": f"skipped: {origin.plugin} ({origin.hook}) stopped the pipeline"}
    return {"status": TaskStatus.FAILED, "started": None, "stops_pipeline": False,
            "error": f"not run: its input {origin.plugin} ({origin.hook}) was lost with its "
                     f"worker ({WORKER_DIED})"}


def _synthetic_end(handle: RunHandle, task_id: str, future: Future) -> dict | None:
    task = handle.state.tasks[task_id]
    event = {"kind": "task_finished", "run_id": handle.run_id, "task_id": task_id,
             "hook": task["hook"], "plugin": task["plugin"], "started": task.get("started"),
             "finished": time.time()}
    if future.status == "error":
        error = future.exception()
        if isinstance(error, KilledWorker):
            return {**event, **_killed(handle, task_id, error)}
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
