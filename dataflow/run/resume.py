"""Resume a failed, cancelled or interrupted run from where it stopped (spec 001).

The resumed run is a new run (`resumed_from` links them) built from the current
plugins and the original run's configs: tasks that completed are restored from
their checkpoints instead of running; with `failed_only`, only the tasks that
failed run again and the rest that did not complete are skipped.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from dataflow.errors import DataflowError
from dataflow.run.plan import RunPlan, build_plan
from dataflow.store.history import get_run

RESUMABLE = ("failed", "cancelled", "interrupted", "completed_with_errors")


def _resumed_task(task, old: dict | None, failed_only: bool):
    if old is None:
        return task if not failed_only else dataclasses.replace(task, mode="skip")
    config = old.get("config", task.config)
    if old["status"] == "completed" and (old.get("checkpoint") or old.get("marked_success")):
        return dataclasses.replace(task, config=config, mode="restore",
                                   restore=old.get("checkpoint"))
    if failed_only and old["status"] not in ("failed", "timed_out"):
        return dataclasses.replace(task, config=config, mode="skip")
    return dataclasses.replace(task, config=config, mode="run")


def resume_plan(project, run_id: str, failed_only: bool = False) -> tuple[RunPlan, dict]:
    """The plan of the resumed run, and the original run's record."""
    old = get_run(project.db, run_id)
    if old.get("status") not in RESUMABLE:
        raise DataflowError(f"run {old['_id']} is {old.get('status')}; only runs that are "
                            f"{', '.join(RESUMABLE)} can be resumed")
    fresh = build_plan(project, old["pipeline"])
    old_tasks = {f"{t['hook']}.{t['plugin']}": t for t in old["tasks"]}
    stages = tuple(tuple(_resumed_task(task, old_tasks.get(task.task_id), failed_only)
                         for task in stage) for stage in fresh.stages)
    return dataclasses.replace(fresh, stages=stages), old


def mark_success(db, run_id: str, plugin: str) -> dict:
    """Let an operator declare one task of a finished run done, so resume skips it."""
    run = get_run(db, run_id)
    if run.get("status") == "running":
        raise DataflowError(f"run {run['_id']} is still running; cancel it first")
    tasks = [t for t in run["tasks"] if t["plugin"] == plugin]
    if not tasks:
        raise DataflowError(f"run {run['_id']} has no plugin {plugin!r}; "
                            f"see `dataflow show {run['_id'][:12]}`")
    for task in tasks:
        db["tasks"].update_one({"_id": task["_id"]}, {"$set": {
            "status": "completed", "marked_success": datetime.now(timezone.utc),
            "previous_status": task["status"], "previous_error": task.get("error")}})
    return run
