"""The two facts the absence alerts need, one query each: when each watched pipeline last
succeeded, and which runs are recorded as running (with when they started)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.database import Database

from dataflow.statuses import ACTIVE_RUN_STATUSES, RunStatus


def last_successes(db: Database[Any], pipelines: Iterable[str]) -> dict[str, datetime | None]:
    """{pipeline: when its newest completed run finished (None: never)} for `pipelines`."""
    found: dict[str, datetime | None] = {name: None for name in pipelines}
    if not found:
        return found
    for doc in db["runs"].aggregate([
            {"$match": {"status": RunStatus.COMPLETED.value, "pipeline": {"$in": sorted(found)}}},
            {"$group": {"_id": "$pipeline", "last": {"$max": "$finished"}}}]):
        found[doc["_id"]] = doc.get("last")
    return found


def running_runs(db: Database[Any]) -> list[dict]:
    """[{run_id, pipeline, started}] of the runs recorded as running (any process)."""
    docs = db["runs"].find({"status": {"$in": sorted(ACTIVE_RUN_STATUSES)}},
                           {"pipeline": 1, "started": 1})
    return [{"run_id": doc["_id"], "pipeline": doc.get("pipeline"), "started": doc["started"]}
            for doc in docs if doc.get("started") is not None]
