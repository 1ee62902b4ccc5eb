"""Run history queries: runs and their tasks, read back for the CLI, API and UI."""
from __future__ import annotations

import re

from pymongo import DESCENDING

from dataflow.errors import RunNotFound

RUN_LIST_FIELDS = {"pipeline": 1, "status": 1, "trigger": 1, "started": 1, "finished": 1,
                   "duration": 1, "counts": 1, "error": 1}


def list_runs(db, pipeline: str | None = None, status: str | None = None,
              limit: int = 20) -> list[dict]:
    """Newest runs first; uses the (pipeline, started) and (started) indexes."""
    query = {}
    if pipeline:
        query["pipeline"] = pipeline
    if status:
        query["status"] = status
    cursor = db["runs"].find(query, RUN_LIST_FIELDS).sort("started", DESCENDING).limit(limit)
    return list(cursor)


def find_run_id(db, prefix: str) -> str:
    """A full run id from a unique prefix (users type the first few characters)."""
    if db["runs"].find_one({"_id": prefix}, {"_id": 1}):
        return prefix
    matches = [doc["_id"] for doc in db["runs"].find(
        {"_id": {"$regex": "^" + re.escape(prefix)}}, {"_id": 1}).limit(2)] if prefix else []
    if len(matches) == 1:
        return matches[0]
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


def runs_in_state(db, statuses: list[str]) -> list[dict]:
    return list(db["runs"].find({"status": {"$in": statuses}}))
