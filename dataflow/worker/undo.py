"""Undo on failure: a plugin's `snapshot`/`rollback`, and the journal of its WRITES.

    with_undo(env, task, inputs, run)   around a task's run (worker/task.py): the snapshot
                                        before, the WRITES journal during, and after a
                                        failure or timeout the plugin's rollback(context,
                                        config, snapshot) then the journal replayed; the
                                        task ends rolled_back, or rollback_failed with
                                        both errors
    undo_completed(env, task)           a completed task of a failed atomic run: its
                                        rollback with the snapshot stored (run/atomic.py,
                                        sent through run/graph.py)

The snapshot is pickled into the rollback journal (store/rollback_journal.py), so an
atomic run's orchestrator can have it rolled back later on any worker; a task run again
after its worker died reuses the first snapshot. A cancel asked for by a user is not
undone: only failures and timeouts are.
"""
from __future__ import annotations

import logging
import pickle
import traceback as tb
from collections.abc import Callable
from types import ModuleType
from typing import Any

from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.plugins.loader import import_plugin
from dataflow.statuses import TaskStatus
from dataflow.store.rollback_journal import load_snapshot, replay, save_snapshot
from dataflow.worker.cancel_flags import cancel_reason, stops_pipeline
from dataflow.worker.context import Context
from dataflow.worker.plugin_log import PluginLogger
from dataflow.worker.write_journal import journaling

log = logging.getLogger("dataflow.worker.undo")
UNDO_AFTER = (TaskStatus.FAILED, TaskStatus.TIMED_OUT)


def declared_writes(module: ModuleType) -> tuple[str, ...]:
    return tuple(getattr(module, "WRITES", None) or ())


def _snapshot(env: RunEnv, task: PlannedTask, module: ModuleType, context: Context,
              config: dict) -> Any:
    """The plugin's snapshot: the one stored for this task if it ran before (its worker
    died), else a new one, stored (when it pickles) for an atomic run's rollback."""
    if not callable(getattr(module, "snapshot", None)):
        return None
    system_db = env.store.system_db()
    stored = load_snapshot(system_db, env.run_id, task.task_id)
    if stored is not None:
        return pickle.loads(stored)
    value = module.snapshot(context, config)
    try:
        save_snapshot(system_db, env.run_id, task.task_id, pickle.dumps(value))
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        PluginLogger(env, task.hook, task.plugin).record(
            "WARNING", f"snapshot() returned a value that does not pickle ({error}); an "
            "atomic run cannot roll this task back once it completed", {})
    return value


def with_undo(env: RunEnv, task: PlannedTask, inputs: dict,
              run: Callable[[], Outcome]) -> Outcome:
    """`run()`, undone if it fails or times out (for plugins with WRITES or rollback)."""
    module = import_plugin(task.ref)
    writes, rollback = declared_writes(module), getattr(module, "rollback", None)
    if not writes and not callable(rollback):
        return run()
    context, config = Context(env, task.hook, task.plugin, inputs), dict(task.config)
    try:
        snapshot = _snapshot(env, task, module, context, config)
    except Exception as error:      # nothing ran yet: nothing to undo
        return Outcome(task.plugin, task.hook, TaskStatus.FAILED, traceback=tb.format_exc(),
                       error=f"snapshot() failed, so run() was not called: "
                             f"{type(error).__name__}: {error}", stops_pipeline=task.fail_hard)
    with journaling(env, task, writes):
        outcome = run()
    outcome.extra["undo"] = {"writes": list(writes), "rollback": callable(rollback)}
    reason = cancel_reason(env.run_id, task.plugin)
    status = reason if reason is not None and outcome.status in (
        TaskStatus.FAILED, TaskStatus.COMPLETED) else outcome.status
    if status not in UNDO_AFTER:
        return outcome
    if reason is not None:
        outcome.stops_pipeline = stops_pipeline(reason, task.fail_hard)
        outcome.error = outcome.error or f"{reason}: the plugin stopped when asked"
    errors, restored = _undo(env, task, module, (context, config, snapshot), writes)
    return _undone(env, task, outcome, status, errors, restored)


def _undo(env: RunEnv, task: PlannedTask, module: ModuleType, arguments: tuple,
          writes: tuple[str, ...]) -> tuple[list[str], int]:
    """The plugin's rollback, then its journal replayed: (errors, documents restored)."""
    errors: list[str] = []
    if callable(getattr(module, "rollback", None)):
        try:
            module.rollback(*arguments)
        except Exception as error:        # reported with the failure it was undoing
            errors.append(f"rollback() raised {type(error).__name__}: {error}")
    restored = 0
    if writes:
        try:
            restored = replay(env.store.system_db(), env.store.data_db(), env.run_id,
                              task.task_id)
        except Exception as error:
            errors.append(f"the WRITES journal could not be replayed: "
                          f"{type(error).__name__}: {error}")
    return errors, restored


def _undone(env: RunEnv, task: PlannedTask, outcome: Outcome, status: str,
            errors: list[str], restored: int) -> Outcome:
    first = outcome.error or str(status)
    outcome.extra["rollback"] = {"after": str(status), "documents_restored": restored}
    if errors:
        outcome.status = TaskStatus.ROLLBACK_FAILED
        outcome.error = f"{first}; rollback failed: {'; '.join(errors)}"
        outcome.extra["rollback"]["errors"] = errors
    else:
        outcome.status = TaskStatus.ROLLED_BACK
        outcome.error = f"{first}; rolled back ({restored} documents restored)"
    PluginLogger(env, task.hook, task.plugin).record(
        "ERROR" if errors else "WARNING", f"{outcome.status}: {outcome.error}",
        {"documents_restored": restored})
    return outcome


def undo_completed(env: RunEnv, task: PlannedTask) -> str | None:
    """Roll back a task that completed (its atomic run failed later) with the snapshot it
    stored: None when done, else why not. Runs on a worker; never raises."""
    try:
        module = import_plugin(task.ref)
        if not callable(getattr(module, "rollback", None)):
            return None
        stored = load_snapshot(env.store.system_db(), env.run_id, task.task_id)
        if stored is None and callable(getattr(module, "snapshot", None)):
            return "its snapshot was not stored (the value did not pickle)"
        snapshot = pickle.loads(stored) if stored is not None else None
        module.rollback(Context(env, task.hook, task.plugin, {}), dict(task.config), snapshot)
    except Exception as error:
        log.warning("rollback of %s failed", task.task_id, exc_info=True)
        return f"rollback() raised {type(error).__name__}: {error}"
    return None
