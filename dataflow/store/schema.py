"""The store's schema: collections, indexes and versioned migrations.

`ensure_schema` runs at every start: it is idempotent and cheap once the
version document says the store is current.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, DESCENDING

if TYPE_CHECKING:
    from pymongo.database import Database

SCHEMA_VERSION = 2
META_ID = "schema"

INDEXES = {
    "runs": [[("started", DESCENDING)], [("pipeline", ASCENDING), ("started", DESCENDING)],
             [("status", ASCENDING)]],
    "tasks": [[("run_id", ASCENDING), ("hook_index", ASCENDING)], [("plugin", ASCENDING)]],
    "logs": [[("run_id", ASCENDING), ("seq", ASCENDING)], [("time", DESCENDING)]],
    "plugin_configs": [[("plugin", ASCENDING), ("pipeline", ASCENDING)]],
    "config_history": [[("plugin", ASCENDING), ("pipeline", ASCENDING), ("version", DESCENDING)]],
    "cache": [[("expires", ASCENDING)]],
}


def _migrate_to_1(db: Database[Any]) -> None:
    """Create the indexes of runs, tasks, logs, plugin configs, config history, cache."""
    for collection, indexes in INDEXES.items():
        for keys in indexes:
            db[collection].create_index(keys)


def _migrate_to_2(db: Database[Any]) -> None:
    """Index runs by (status, started) and (pipeline, status, started); drop logs.time."""
    db["runs"].create_index([("status", ASCENDING), ("started", DESCENDING)])
    db["runs"].create_index([("pipeline", ASCENDING), ("status", ASCENDING),
                             ("started", DESCENDING)])
    if "time_-1" in db["logs"].index_information():   # unused; it slowed every log write
        db["logs"].drop_index("time_-1")


MIGRATIONS = {1: _migrate_to_1, 2: _migrate_to_2}


def schema_status(db: Database[Any]) -> dict:
    meta = db["meta"].find_one({"_id": META_ID}) or {}
    current = meta.get("version", 0)
    return {"version": current, "latest": SCHEMA_VERSION,
            "pending": [v for v in sorted(MIGRATIONS) if v > current],
            "migrated_at": meta.get("migrated_at")}


def ensure_schema(db: Database[Any]) -> list[int]:
    """Apply pending migrations in order; returns the versions applied."""
    applied = []
    for version in schema_status(db)["pending"]:
        MIGRATIONS[version](db)
        db["meta"].update_one({"_id": META_ID}, {"$set": {
            "version": version, "migrated_at": datetime.now(timezone.utc)}}, upsert=True)
        applied.append(version)
    return applied
