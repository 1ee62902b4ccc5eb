"""Run history queries: runs and their tasks, read back for the CLI, API and UI."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING

from dataflow.errors import RunNotFound
from dataflow.statuses import ACTIVE_RUN_STATUSES, RunStatus, UNFINISHED_TASK_STATUSES, TaskStatus

if TYPE_CHECKING:
    from pymongo.database import Database

RECENT_WINDOWS = (timedelta(hours=6), timedelta(days=2), timedelta(days=16),
                  timedelta(days=128), timedelta(days=1024))
RUN_LIST_FIELDS = {"pipeline": 1, "status": 1, "trigger": 1, "started": 1, "finished": 1,
                   "duration": 1, "counts": 1, "error": 1}


def list_runs(db: Database[Any], pipeline: str | None = None, status: str | None = None,
              limit: int = 20) -> list[dict]:
    """Newest runs first.

    Asked over widening windows of `started` (6 hours, 2 days, ... then all time):
    a server that reads every index match before applying the limit (SecantusDB)
    then reads only the recent runs, not the whole history.
    """
    query = {}
    if pipeline:
        query["pipeline"] = pipeline
    if status:
        query["status"] = status
    now = datetime.now(timezone.utc)
    for window in (*RECENT_WINDOWS, None):
        bounded = {**query, "started": {"$gte": now - window}} if window else query
        found = list(db["runs"].find(bounded, RUN_LIST_FIELDS)
                     .sort("started", DESCENDING).limit(limit))
        if len(found) >= limit or window is None:
            return found
    return []


def _prefix_bounds(prefix: str) -> dict:
    return {"$gte": prefix, "$lt": prefix + "\uffff"}


def find_run_id(db: Database[Any], prefix: str) -> str:
    """A full run id from a unique prefix (users type the first few characters).

    Looked up through the tasks' run_id index first: a range on `runs._id` would
    read every run on servers that index _id for exact matches only.
    """
    if db["runs"].find_one({"_id": prefix}, {"_id": 1}):
        return prefix
    matches = set()
    if prefix:
        for task in db["tasks"].find({"run_id": _prefix_bounds(prefix)}, {"run_id": 1}):
            matches.add(task["run_id"])
            if len(matches) > 1:
                break
        if not matches:
            matches = {doc["_id"] for doc in db["runs"].find(
                {"_id": {"$regex": "^" + re.escape(prefix)}}, {"_id": 1}).limit(2)}
    if len(matches) == 1:
        return matches.pop()
    if len(matches) > 1:
        raise RunNotFound(prefix, ambiguous=True)
    raise RunNotFound(prefix)


def get_run(db: Database[Any], run_id: str) -> dict:
    """One run with its tasks in hook order."""
    run = db["runs"].find_one({"_id": find_run_id(db, run_id)})
    if run is None:
        raise RunNotFound(run_id)
    run["tasks"] = list(db["tasks"].find({"run_id": run["_id"]}).sort(
        [("hook_index", 1), ("plugin", 1)]))
    return run


def run_status(db: Database[Any], run_id: str) -> str | None:
    """The status of a run (full id), or None when there is no such run."""
    run = db["runs"].find_one({"_id": run_id}, {"status": 1})
    return None if run is None else run.get("status")


def active_runs(db: Database[Any]) -> list[dict]:
    """Runs recorded as running, with who orchestrates them (host, pid, heartbeat)."""
    return list(db["runs"].find({"status": {"$in": list(ACTIVE_RUN_STATUSES)}},
                                {"host": 1, "pid": 1, "pid_started": 1, "heartbeat": 1}))


def mark_interrupted(db: Database[Any], run_id: str, reason: str, now: datetime) -> None:
    """A running run whose orchestrator died: the run and its unfinished tasks."""
    db["runs"].update_one({"_id": run_id, "status": RunStatus.RUNNING}, {"$set": {
        "status": RunStatus.INTERRUPTED, "finished": now, "error": reason}})
    db["tasks"].update_many({"run_id": run_id,
                             "status": {"$in": list(UNFINISHED_TASK_STATUSES)}},
                            {"$set": {"status": TaskStatus.INTERRUPTED}})
