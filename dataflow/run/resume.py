"""Resume a failed, cancelled or interrupted run from where it stopped (spec 001).

The resumed run is a new run (`resumed_from` links them) built from the current
plugins and the original run's configs: tasks that completed are restored from
their checkpoints instead of running; with `failed_only`, only the tasks that
failed run again and the rest that did not complete are skipped. One resume of a run at
a time (run/resume_claim.py); a run resumed before is resumed again only when asked.
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
from dataflow.store.resume_lease import refuse_if_resuming

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
    # a streamed chain it drove continues from its last chunk checkpoint (worker/stream_chain.py)
    return dataclasses.replace(task, config=config, mode="run",
                               restore={"kind": "stream", "run_id": old.get("run_id")})


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


def refuse_if_resumed(run_id: str, resumed_by: str | None, again: bool) -> None:
    if resumed_by and not again:
        raise NotResumable(
            f"run {run_id} was already resumed by run {resumed_by}; see `dataflow show "
            f"{resumed_by[:12]}` (resume that run instead if it did not complete), or run "
            f"`dataflow resume {run_id[:12]} --again` to resume this one once more")


def resume_plan(project: Project, run_id: str, failed_only: bool = False,
                again: bool = False) -> tuple[RunPlan, dict]:
    """The plan of the resumed run, and the original run's record. A run resumed before
    is refused unless `again`."""
    old = get_run(project.db, run_id)
    if old.get("status") not in RESUMABLE_RUN_STATUSES:
        raise NotResumable(f"run {old['_id']} is {old.get('status')}; only runs that are "
                           f"{', '.join(RESUMABLE_RUN_STATUSES)} can be resumed")
    refuse_if_resuming(project.db, old["_id"])
    refuse_if_resumed(old["_id"], old.get("resumed_by"), again)
    foreign = _foreign_checkpoints(project, old)
    if foreign:
        raise InvalidInput(f"run {old['_id']} cannot be resumed (nothing was run):\n"
                           + "\n".join(f"  - {p}" for p in foreign), foreign)
    fresh = build_plan(project, old["pipeline"])
    old_tasks = {f"{t['hook']}.{t['plugin']}": t for t in old["tasks"]}
    stages = tuple(tuple(_resumed_task(task, old_tasks.get(task.task_id), failed_only)
                         for task in stage) for stage in fresh.stages)
    return dataclasses.replace(fresh, stages=stages), old
