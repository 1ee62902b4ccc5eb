"""A run's undo at its end: an atomic pipeline's failed run rolled back, rollbacks counted.

    settle_undo(client, handle)             called once the run's graph settled
                                            (engine._finish); never raises

`atomic: true` on a pipeline (config/pipelines.py): when a fail-hard plugin failed, every
task that changed something in this run is rolled back, latest hook first — its plugin's
`rollback` with the snapshot it stored (a Dask task: worker/undo.py's undo_completed,
named in run/graph.py) and its WRITES journal replayed here against the store — so the
run leaves the database as it was before it. The failed task was already undone on its
worker. Tasks are recorded `rolled_back` (or `rollback_failed`), the run's record lists
them (`rolled_back`, `rollback_failed`; `not_rolled_back`: completed tasks with neither
WRITES nor rollback, or whose output was reused from a checkpoint or the cache).
Whatever the pipeline, the run's journal is then deleted.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dataflow.plugins.loader import import_plugin
from dataflow.run.graph import task_key, undo_completed
from dataflow.run.rollback_metrics import count_rollback
from dataflow.statuses import UNDONE_TASK_STATUSES, RunStatus, TaskStatus
from dataflow.store.rollback_journal import forget_run, replay

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.model import PlannedTask
    from dataflow.run.result import RunHandle

log = logging.getLogger("dataflow.run.atomic")
ROLLBACK_TIMEOUT = 300.0      # seconds one plugin's rollback may take on a worker
NOTHING_TO_UNDO = (TaskStatus.SKIPPED, TaskStatus.PENDING, *UNDONE_TASK_STATUSES)


def settle_undo(client: Client, handle: RunHandle) -> None:
    """Roll back a failed atomic run; count the run's rollbacks; delete its journal."""
    try:
        if handle.plan.atomic and handle.state.status() == RunStatus.FAILED:
            _roll_back_run(client, handle)
        for task in handle.state.tasks.values():
            if task["status"] in UNDONE_TASK_STATUSES:
                count_rollback(handle.plan.pipeline, str(task["status"]))
    except Exception:          # the run's end is recorded whatever happens here
        log.exception("undoing run %s failed", handle.run_id)
    finally:
        try:
            if _journals(handle):       # else nothing was journaled: no store round trip
                forget_run(handle.env.store.system_db(), handle.run_id)
        except Exception as error:
            log.warning("the rollback journal of run %s was not deleted: %s", handle.run_id,
                        error)


def _journals(handle: RunHandle) -> bool:
    """Whether a plugin of the run keeps a journal (WRITES, or a snapshot to undo)."""
    for task in handle.plan.tasks:
        try:
            module = import_plugin(task.ref)
        except Exception:           # it failed to import: it ran nothing
            continue
        if getattr(module, "WRITES", None) or callable(getattr(module, "snapshot", None)):
            return True
    return False


def _roll_back_run(client: Client, handle: RunHandle) -> None:
    lists: dict[str, list[str]] = {TaskStatus.ROLLED_BACK: [], TaskStatus.ROLLBACK_FAILED: [],
                                   "not_rolled_back": []}
    for task in reversed(handle.plan.tasks):        # latest hook first
        state = handle.state.tasks.get(task.task_id) or {}
        status = state.get("status")
        if status in NOTHING_TO_UNDO:
            continue
        if status == TaskStatus.COMPLETED and state.get("reused"):   # written by an earlier run
            lists["not_rolled_back"].append(task.task_id)
            continue
        errors, restored, undoable = _undo_task(client, handle, task, state)
        if not undoable and not restored and not errors:
            if status == TaskStatus.COMPLETED:
                lists["not_rolled_back"].append(task.task_id)
            continue
        outcome = TaskStatus.ROLLBACK_FAILED if errors else TaskStatus.ROLLED_BACK
        lists[outcome].append(task.task_id)
        _record(handle, task, str(status), outcome, restored, errors)
    for task_id in lists[TaskStatus.ROLLED_BACK] + lists[TaskStatus.ROLLBACK_FAILED]:
        log.info("run %s: %s undone (atomic pipeline)", handle.run_id, task_id)
    handle.state.recorder.record("runs", handle.run_id, lists)


def _undo_task(client: Client, handle: RunHandle, task: PlannedTask,
               state: dict) -> tuple[list[str], int, bool]:
    """(errors, documents restored, whether the task can be undone at all)."""
    undo = state.get("undo") or {}
    errors: list[str] = []
    if state.get("status") == TaskStatus.COMPLETED and undo.get("rollback"):
        error = _remote_rollback(client, handle, task)
        if error:
            errors.append(error)
    restored = 0
    try:
        store = handle.env.store
        restored = replay(store.system_db(), store.data_db(), handle.run_id, task.task_id)
    except Exception as error:
        errors.append(f"the WRITES journal could not be replayed: {type(error).__name__}: "
                      f"{error}")
    return errors, restored, bool(undo.get("rollback") or undo.get("writes"))


def _remote_rollback(client: Client, handle: RunHandle, task: PlannedTask) -> str | None:
    try:
        future = client.submit(undo_completed, handle.env, task, pure=False, retries=0,
                               key=f"rollback-{task_key(handle.env, task)}")
        return future.result(timeout=ROLLBACK_TIMEOUT)
    except Exception as error:      # worker died, timeout: reported on the task
        return f"rollback() did not run to its end: {type(error).__name__}: {error}"


def _record(handle: RunHandle, task: PlannedTask, was: str, outcome: TaskStatus,
            restored: int, errors: list[str]) -> None:
    details = {"after": was, "by": "atomic run", "documents_restored": restored}
    if errors:
        details["errors"] = errors
    text = f"rolled back: the atomic run failed ({was} before)" if not errors else \
        f"rollback failed ({was} before): {'; '.join(errors)}"
    handle.state.tasks[task.task_id].update(status=outcome, rollback=details)
    fields = {"status": outcome, "rollback": details}
    if was == TaskStatus.COMPLETED:
        fields["error"] = text
    handle.state.recorder.record("tasks", f"{handle.run_id}:{task.task_id}", fields)
