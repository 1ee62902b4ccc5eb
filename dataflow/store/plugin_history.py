"""Which versions of a plugin ran when: its task records grouped by (VERSION, source hash).

Every task record carries the plugin's `plugin_version` and `source_hash` (written when
the run starts, run/launch.py), so `dataflow plugins --history ID` is one aggregation
over the plugin's tasks plus one look-up per version for its newest status.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING

if TYPE_CHECKING:
    from pymongo.database import Database


def _last_task(db: Database[Any], plugin_id: str, version: Any, source_hash: Any) -> dict:
    """The newest task of one version: its status and run."""
    found = db["tasks"].find(
        {"plugin": plugin_id, "plugin_version": version, "source_hash": source_hash},
        {"status": 1, "run_id": 1, "pipeline": 1}).sort("started", DESCENDING).limit(1)
    return next(iter(found), {})


def plugin_history(db: Database[Any], plugin_id: str) -> list[dict]:
    """[{version, source_hash, first_run, last_run, runs, last_status, last_run_id,
    pipelines}] of every version of `plugin_id` that ran, newest last run first."""
    groups = db["tasks"].aggregate([
        {"$match": {"plugin": plugin_id}},
        {"$group": {"_id": {"version": "$plugin_version", "source_hash": "$source_hash"},
                    "first_run": {"$min": "$started"}, "last_run": {"$max": "$started"},
                    "runs": {"$sum": 1}}}])
    history = []
    for group in groups:
        version, source_hash = group["_id"].get("version"), group["_id"].get("source_hash")
        last = _last_task(db, plugin_id, version, source_hash)
        history.append({"version": version, "source_hash": source_hash,
                        "first_run": group.get("first_run"), "last_run": group.get("last_run"),
                        "runs": group.get("runs", 0), "last_status": last.get("status"),
                        "last_run_id": last.get("run_id"), "pipeline": last.get("pipeline")})
    return sorted(history, key=lambda entry: (entry["last_run"] is not None,
                                              entry["last_run"] or 0), reverse=True)


def ever_ran(db: Database[Any], plugin_id: str) -> bool:
    return db["tasks"].find_one({"plugin": plugin_id}, {"_id": 1}) is not None
