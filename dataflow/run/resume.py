"""Resume a failed, cancelled or interrupted run from where it stopped (spec 001).

The resumed run is a new run (`resumed_from` links them) built from the current
plugins and the original run's configs: tasks that completed are restored from
their checkpoints instead of running; with `failed_only`, only the tasks that
failed run again and the rest that did not complete are skipped.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from dataflow.errors import InvalidInput, NotResumable, Problem
from dataflow.model import PlannedTask
from dataflow.run.plan import RunPlan, build_plan
from dataflow.statuses import FAILED_TASK_STATUSES, RESUMABLE_RUN_STATUSES, TaskStatus
from dataflow.store.history import get_run

if TYPE_CHECKING:
    from dataflow.project import Project


def _resumed_task(task: PlannedTask, old: dict | None, failed_only: bool) -> PlannedTask:
    if old is None:
        return task if not failed_only else dataclasses.replace(task, mode="skip")
    config = old.get("config", task.config)
    if old["status"] == TaskStatus.COMPLETED and (old.get("checkpoint") or old.get("marked_success")):
        return dataclasses.replace(task, config=config, mode="restore",
                                   restore=old.get("checkpoint"))
    if failed_only and old["status"] not in FAILED_TASK_STATUSES:
        return dataclasses.replace(task, config=config, mode="skip")
    return dataclasses.replace(task, config=config, mode="run")


def _foreign_checkpoints(project: Project, old: dict) -> list[Problem]:
    """Task records whose file checkpoint is not in this project's checkpoint folder:
    a resume reads checkpoints from there only."""
    folder = project.directory.resolve() / ".dataflow" / "checkpoints"
    problems = []
    for task in old["tasks"]:
        ref = task.get("checkpoint") or {}
        path = Path(str(ref.get("path", ""))).resolve() if ref.get("kind") == "file" else None
        if path is not None and folder not in path.parents:
            problems.append(Problem(
                f"run {old['_id']}", f"tasks.{task['hook']}.{task['plugin']}.checkpoint",
                f"the checkpoint path {str(path)!r} is outside the project's checkpoint "
                f"folder {folder}; it is not read", "run the pipeline afresh with "
                f"`dataflow run {old.get('pipeline')}` instead of resuming this run"))
    return problems


def resume_plan(project: Project, run_id: str,
                failed_only: bool = False) -> tuple[RunPlan, dict]:
    """The plan of the resumed run, and the original run's record."""
    old = get_run(project.db, run_id)
    if old.get("status") not in RESUMABLE_RUN_STATUSES:
        raise NotResumable(f"run {old['_id']} is {old.get('status')}; only runs that are "
                           f"{', '.join(RESUMABLE_RUN_STATUSES)} can be resumed")
    foreign = _foreign_checkpoints(project, old)
    if foreign:
        raise InvalidInput(f"run {old['_id']} cannot be resumed (nothing was run):\n"
                           + "\n".join(f"  - {p}" for p in foreign), foreign)
    fresh = build_plan(project, old["pipeline"])
    old_tasks = {f"{t['hook']}.{t['plugin']}": t for t in old["tasks"]}
    stages = tuple(tuple(_resumed_task(task, old_tasks.get(task.task_id), failed_only)
                         for task in stage) for stage in fresh.stages)
    return dataclasses.replace(fresh, stages=stages), old
