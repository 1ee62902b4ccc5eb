"""Run history queries: runs and their tasks, read back for the CLI, API and UI."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from pymongo import DESCENDING

from dataflow.errors import RunNotFound

RECENT_WINDOWS = (timedelta(hours=6), timedelta(days=2), timedelta(days=16),
                  timedelta(days=128), timedelta(days=1024))
RUN_LIST_FIELDS = {"pipeline": 1, "status": 1, "trigger": 1, "started": 1, "finished": 1,
                   "duration": 1, "counts": 1, "error": 1}


def list_runs(db, pipeline: str | None = None, status: str | None = None,
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


def find_run_id(db, prefix: str) -> str:
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


def get_run(db, run_id: str) -> dict:
    """One run with its tasks in hook order."""
    run = db["runs"].find_one({"_id": find_run_id(db, run_id)})
    if run is None:
        raise RunNotFound(run_id)
    run["tasks"] = list(db["tasks"].find({"run_id": run["_id"]}).sort(
        [("hook_index", 1), ("plugin", 1)]))
    return run
