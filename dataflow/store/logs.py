"""A run's log records (collection `logs`, ordered by `seq` within a run)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING

if TYPE_CHECKING:
    from pymongo.database import Database


def read_logs(db: Database[Any], run_id: str, plugin: str | None = None, levels: list[str] | None = None,
              after_seq: int = 0, limit: int = 0) -> list[dict]:
    """Records of a run after `after_seq`, oldest first, optionally of one plugin and of
    the given levels only."""
    query: dict = {"run_id": run_id, "seq": {"$gt": after_seq}}
    if plugin:
        query["plugin"] = plugin
    if levels is not None:
        query["level"] = {"$in": list(levels)}
    return list(db["logs"].find(query).sort("seq", ASCENDING).limit(limit))
