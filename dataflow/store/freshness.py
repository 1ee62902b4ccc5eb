"""When the pipelines a run depends on last provided their data (dependencies, spec 003).

A pipeline's data are fresh from its last completed run, or from the last completed run
that ran it as an upstream (`dataflow run P --with-upstream` records `upstream: [...]`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

from dataflow.statuses import RunStatus
from dataflow.store.alert_facts import last_successes


def last_provided(db: Database[Any], pipelines: Iterable[str],
                  downstream: Mapping[str, Iterable[str]] | None = None
                  ) -> dict[str, datetime | None]:
    """{pipeline: when its data were last produced by a completed run (None: never)}:
    its own runs, or (`downstream`: {pipeline: those that may run it as an upstream})
    a completed --with-upstream run of one of those."""
    found = last_successes(db, pipelines)
    for name in found:
        runners = sorted((downstream or {}).get(name, ()))
        doc = db["runs"].find_one(
            {"pipeline": {"$in": runners}, "status": RunStatus.COMPLETED.value,
             "upstream": name}, {"finished": 1}, sort=[("started", DESCENDING)]) \
            if runners else None
        when, own = (doc.get("finished") if doc else None), found[name]
        if when is not None and (own is None or when > own):
            found[name] = when
    return found


def last_started(db: Database[Any], pipelines: Iterable[str]) -> dict[str, datetime | None]:
    """{pipeline: when its newest run (any status) started (None: never ran)}."""
    found: dict[str, datetime | None] = {name: None for name in pipelines}
    if not found:
        return found
    for doc in db["runs"].aggregate([
            {"$match": {"pipeline": {"$in": sorted(found)}}},
            {"$group": {"_id": "$pipeline", "last": {"$max": "$started"}}}]):
        found[doc["_id"]] = doc.get("last")
    return found
