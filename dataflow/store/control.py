"""Operator actions on runs, through the store: cancel requests and marking a task done.

A run is orchestrated by one process; `dataflow cancel` from another process writes a
request here, and the orchestrator's supervisor thread picks it up.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dataflow.errors import NotFound, NotRunning, StillRunning
from dataflow.statuses import ACTIVE_RUN_STATUSES, TaskStatus
from dataflow.store.history import find_run_id, get_run

if TYPE_CHECKING:
    from pymongo.database import Database


def request_cancel(db: Database[Any], run_id: str, plugin: str | None = None) -> str:
    """Ask the process running `run_id` to cancel it (or one plugin); returns the full id."""
    full_id = find_run_id(db, run_id)
    run = db["runs"].find_one({"_id": full_id}, {"status": 1}) or {}
    if run.get("status") not in ACTIVE_RUN_STATUSES:
        raise NotRunning(f"run {full_id} is not running (status {run.get('status')}); "
                         "only running runs can be cancelled")
    if plugin is not None and not db["tasks"].find_one({"run_id": full_id, "plugin": plugin}):
        raise NotFound(f"run {full_id} has no plugin {plugin!r}; "
                       f"see `dataflow show {full_id[:12]}`")
    db["cancel_requests"].insert_one({"_id": uuid.uuid4().hex, "run_id": full_id, "plugin": plugin,
                                      "requested": datetime.now(timezone.utc), "handled": None})
    return full_id


def take_cancel_requests(db: Database[Any], run_ids: list[str]) -> list[dict]:
    """The unhandled cancel requests for these runs, marked handled as they are taken."""
    requests = db["cancel_requests"]
    found = list(requests.find({"run_id": {"$in": run_ids}, "handled": None}))
    for request in found:
        requests.update_one({"_id": request["_id"]}, {"$set": {"handled": time.time()}})
    return found


def mark_success(db: Database[Any], run_id: str, plugin: str) -> dict:
    """Let an operator declare one task of a finished run done, so resume skips it."""
    run = get_run(db, run_id)
    if run.get("status") in ACTIVE_RUN_STATUSES:
        raise StillRunning(f"run {run['_id']} is still running; cancel it first")
    tasks = [t for t in run["tasks"] if t["plugin"] == plugin]
    if not tasks:
        raise NotFound(f"run {run['_id']} has no plugin {plugin!r}; "
                       f"see `dataflow show {run['_id'][:12]}`")
    for task in tasks:
        db["tasks"].update_one({"_id": task["_id"]}, {"$set": {
            "status": TaskStatus.COMPLETED, "marked_success": datetime.now(timezone.utc),
            "previous_status": task["status"], "previous_error": task.get("error")}})
    return run
