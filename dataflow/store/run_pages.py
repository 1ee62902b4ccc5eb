"""Run history a page at a time, filtered: the REST API's run list, its bulk actions and a
plugin's recent tasks.

Pages are keyset-paged on `started` (newest first; ties broken by `_id`): the opaque
`next` cursor names the last run shown, so a page costs the same however deep it is.
Each page is asked over widening windows of `started` below the cursor (6 hours, 2 days,
... then all time), as `history.list_runs` does, because SecantusDB reads every index
match before applying a limit; the first window is sized from how dense the matching
runs were last time, so a page reads about 1.5 pages of runs, busy store or quiet.
Listed runs carry no heavy fields (no tasks, config or tracebacks).
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone

from pymongo import DESCENDING

from dataflow.errors import InvalidInput, Problem
from dataflow.statuses import ACTIVE_RUN_STATUSES, UNFINISHED_TASK_STATUSES
from dataflow.store.history import RECENT_WINDOWS, RUN_LIST_FIELDS

PAGE_FIELDS = {**RUN_LIST_FIELDS, "priority": 1, "resumed_from": 1, "resumed_by": 1}
NEWEST_FIRST = [("started", DESCENDING), ("_id", DESCENDING)]
MAX_LIMIT = 500
HINT_FACTOR, MAX_HINTS = 1.5, 1000
_density: dict[tuple, float] = {}     # matching runs a second, last seen, by filter
TASK_FIELDS = {"run_id": 1, "pipeline": 1, "hook": 1, "plugin": 1, "status": 1, "started": 1,
               "finished": 1, "duration": 1, "error": 1, "plugin_version": 1}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", [Problem("", field, message)])


def encode_cursor(run: dict) -> str:
    millis = int(run["started"].timestamp() * 1000)
    return base64.urlsafe_b64encode(f"{millis}.{run['_id']}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(started, run id) of the run a `next` cursor names; InvalidInput if it is not one."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, run_id = text.split(".", 1)
        seconds, rest = divmod(int(millis), 1000)
        return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(milliseconds=rest), \
            run_id
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise _bad("before", "not a cursor from a previous page's `next`") from None


def run_query(pipeline: str | None = None, status=None, trigger: str | None = None) -> dict:
    """The match on everything but `started`; `status` may be one status or several."""
    query: dict = {}
    if pipeline:
        query["pipeline"] = pipeline
    if isinstance(status, (list, tuple, set, frozenset)):
        query["status"] = {"$in": sorted(status)}
    elif status:
        query["status"] = status
    if trigger:
        query["trigger"] = trigger
    return query


def _started_range(low: datetime | None, high: datetime | None, high_open: bool) -> dict:
    bounds = {}
    if low is not None:
        bounds["$gte"] = low
    if high is not None:
        bounds["$lt" if high_open else "$lte"] = high
    return bounds


def _windows(key: tuple, limit: int) -> tuple:
    """The windows to try: first one sized from the density of matching runs seen last
    time (about 1.5 pages), then the fixed widening ones beyond it, then all time."""
    rate = _density.get(key)
    if not rate:
        return (*RECENT_WINDOWS, None)
    first = timedelta(seconds=min(HINT_FACTOR * limit / rate, RECENT_WINDOWS[-1].total_seconds()))
    return (first, *(window for window in RECENT_WINDOWS if window > first), None)


def _learn(key: tuple, anchor: datetime, found: list[dict], limit: int) -> None:
    oldest = found[-1].get("started") if len(found) >= limit else None
    span = (anchor - oldest).total_seconds() if oldest else 0
    if span > 0:
        if len(_density) > MAX_HINTS:
            _density.clear()
        _density[key] = len(found) / span


def _newest(db, query: dict, since, high, high_open: bool, limit: int) -> list[dict]:
    """Up to `limit` runs newest first with since <= started < / <= high, window by window."""
    anchor, key = high or datetime.now(timezone.utc), (db.name, *sorted(query.items()))
    for window in _windows(key, limit):
        low = anchor - window if window is not None else None
        last = window is None or (since is not None and low <= since)
        if since is not None and (low is None or low < since):
            low = since
        bounds = _started_range(low, high, high_open)
        found = list(db["runs"].find({**query, "started": bounds} if bounds else query,
                                     PAGE_FIELDS).sort(NEWEST_FIRST).limit(limit))
        if len(found) >= limit or last:
            _learn(key, anchor, found, limit)
            return found
    return []


def page_runs(db, pipeline: str | None = None, status=None, trigger: str | None = None,
              since: datetime | None = None, until: datetime | None = None, limit: int = 50,
              before: str | None = None) -> dict:
    """{"runs": up to `limit` runs newest first, "next": cursor of the next page or None}."""
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"must be between 1 and {MAX_LIMIT}")
    query, ties = run_query(pipeline, status, trigger), []
    high, high_open = until, False
    if before is not None:
        at, last_id = decode_cursor(before)
        if until is None or at <= until:
            high, high_open = at, True
            if since is None or at >= since:       # runs started in the same millisecond
                ties = list(db["runs"].find({**query, "started": at, "_id": {"$lt": last_id}},
                                            PAGE_FIELDS).sort("_id", DESCENDING).limit(limit + 1))
    if len(ties) <= limit:
        ties += _newest(db, query, since, high, high_open, limit + 1 - len(ties))
    runs = ties
    more = len(runs) > limit
    runs = runs[:limit]
    return {"runs": runs, "next": encode_cursor(runs[-1]) if more and runs else None}


def count_runs(db, pipeline: str | None = None, status=None, trigger: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> int:
    """How many runs match (reads every match: ask for it only when it is wanted)."""
    query = run_query(pipeline, status, trigger)
    bounds = _started_range(since, until, False)
    return db["runs"].count_documents({**query, "started": bounds} if bounds else query)


def matching_run_ids(db, statuses, pipeline: str | None = None, trigger: str | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: int = 100, not_resumed: bool = False) -> list[str]:
    """Ids of up to `limit` runs in one of `statuses` matching the filter, newest first
    (bulk cancel and resume); `not_resumed` leaves out runs already resumed."""
    query = run_query(pipeline, frozenset(statuses), trigger)
    bounds = _started_range(since, until, False)
    if bounds:
        query["started"] = bounds
    if not_resumed:
        query["resumed_by"] = None
    return [doc["_id"] for doc in db["runs"].find(query, {"_id": 1}).sort(NEWEST_FIRST)
            .limit(limit)]


def recent_plugin_tasks(db, plugin: str, runs: int = 50, limit: int = 10) -> list[dict]:
    """The plugin's tasks among the `runs` newest runs, newest first (no config, traceback)."""
    newest = page_runs(db, limit=runs)["runs"]
    order = {run["_id"]: index for index, run in enumerate(newest)}
    found = db["tasks"].find({"run_id": {"$in": list(order)}, "plugin": plugin}, TASK_FIELDS)
    return sorted(found, key=lambda task: order[task["run_id"]])[:limit]


def unfinished_plugin_runs(db, plugin: str) -> list[str]:
    """Ids of running runs in which the plugin's task has not ended."""
    running = [doc["_id"] for doc in db["runs"].find(
        {"status": {"$in": sorted(ACTIVE_RUN_STATUSES)}}, {"_id": 1})]
    if not running:
        return []
    return sorted({task["run_id"] for task in db["tasks"].find(
        {"run_id": {"$in": running}, "plugin": plugin,
         "status": {"$in": sorted(UNFINISHED_TASK_STATUSES)}}, {"run_id": 1})})



def run_outcomes(db, run_ids: list[str]) -> dict[str, dict]:
    """{run id: {pipeline, status}} of these runs (metrics: which runs ended, and how)."""
    return {doc["_id"]: doc for doc in db["runs"].find({"_id": {"$in": list(run_ids)}},
                                                        {"pipeline": 1, "status": 1})}


def running_by_pipeline(db) -> dict[str, int]:
    """How many runs are recorded as running, by pipeline (one query on the status index)."""
    counts: dict[str, int] = {}
    for doc in db["runs"].find({"status": {"$in": sorted(ACTIVE_RUN_STATUSES)}},
                               {"pipeline": 1}):
        counts[doc.get("pipeline", "")] = counts.get(doc.get("pipeline", ""), 0) + 1
    return counts
