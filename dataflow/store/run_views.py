"""The read queries of the control panel's pages (dashboards/): one query per view and refresh.

    runs_page          a page of the run history, filtered, newest first, keyset-paged
    matching_run_ids   the ids a bulk action applies to (the current filter, one status)
    recent_by_pipeline the last runs of each pipeline (overview)
    change_marker      what tells every page that the runs changed (one small query)
    tail_logs          the newest log records of a run, optionally filtered

Lists read only light fields (no configs, tracebacks or checkpoints). Like `list_runs`,
history is asked over widening windows of `started`, so a large store is read only as
far back as a page needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pymongo import DESCENDING

from dataflow.statuses import ACTIVE_RUN_STATUSES
from dataflow.store import run_pages
from dataflow.store.history import RECENT_WINDOWS, RUN_LIST_FIELDS

PAGE_FIELDS = {**RUN_LIST_FIELDS, "resumed_from": 1, "resumed_by": 1}
RECENT_FIELDS = {"pipeline": 1, "status": 1, "started": 1, "finished": 1, "duration": 1}
MARKER_WINDOW = timedelta(minutes=2)
BULK_LIMIT = 500


@dataclass(frozen=True)
class RunFilter:
    """What the runs page shows: any of pipeline, status, trigger, a `started` range."""

    pipeline: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict:
        query: dict = {key: value for key, value in (
            ("pipeline", self.pipeline), ("status", self.status), ("trigger", self.trigger))
            if value}
        started = {}
        if self.since:
            started["$gte"] = self.since
        if self.until:
            started["$lt"] = self.until
        if started:
            query["started"] = started
        return query


def _bounded(query: dict, low: datetime | None, high: datetime | None) -> dict:
    started = dict(query.get("started", {}))
    if low is not None:
        started["$gte"] = max(low, started.get("$gte", low))
    if high is not None:
        started["$lt"] = min(high, started.get("$lt", high))
    return {**query, "started": started} if started else dict(query)


def _windowed(db, query: dict, fields: dict, limit: int, top: datetime) -> list[dict]:
    """Newest first below `top`, asked over widening windows until `limit` are found."""
    for window in (*RECENT_WINDOWS, None):
        bounded = _bounded(query, top - window if window else None, top)
        found = list(db["runs"].find(bounded, fields).sort("started", DESCENDING).limit(limit))
        if len(found) >= limit or window is None:
            return found
    return []


def runs_page(db, run_filter: RunFilter, before: datetime | None = None,
              limit: int = 25) -> list[dict]:
    """Up to `limit` runs matching the filter that started before `before` (the last
    `started` of the previous page), newest first. Ask for limit + 1 to know whether
    there is a next page."""
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    top = min(value for value in (before, run_filter.until, now) if value is not None)
    return _windowed(db, run_filter.query(), PAGE_FIELDS, limit, top)


def matching_run_ids(db, run_filter: RunFilter, statuses, exclude_resumed: bool = False,
                     limit: int = BULK_LIMIT) -> list[str]:
    """Ids of the runs matching the filter whose status is one of `statuses` (newest
    first, at most `limit`); `exclude_resumed` leaves out runs already resumed. The same
    query as the API's bulk actions (run_pages.matching_run_ids), from the page's filter."""
    if run_filter.status:           # the filter narrows the statuses to its own
        if run_filter.status not in {str(s) for s in statuses}:
            return []
        statuses = [run_filter.status]
    return run_pages.matching_run_ids(db, statuses, run_filter.pipeline, run_filter.trigger,
                                      run_filter.since, run_filter.until, limit,
                                      not_resumed=exclude_resumed)


def recent_by_pipeline(db, pipelines, per_pipeline: int = 20) -> dict[str, list[dict]]:
    """The newest `per_pipeline` runs of each pipeline (light fields), newest first."""
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    return {name: _windowed(db, {"pipeline": name}, RECENT_FIELDS, per_pipeline, now)
            for name in pipelines}


def change_marker(db, now: datetime | None = None) -> frozenset:
    """(id, status) of every running run and every run started in the last minutes:
    it changes whenever a run starts, ends or changes status, wherever it runs.
    Two index reads (an `$or` of the two would scan the collection on some servers)."""
    now = now or datetime.now(timezone.utc)
    running = db["runs"].find({"status": {"$in": [str(s) for s in ACTIVE_RUN_STATUSES]}},
                              {"status": 1})
    recent = db["runs"].find({"started": {"$gte": now - MARKER_WINDOW}}, {"status": 1})
    return frozenset((doc["_id"], doc.get("status")) for cursor in (running, recent)
                     for doc in cursor)


def tail_logs(db, run_id: str, plugin: str | None = None, levels=None,
              limit: int = 500) -> list[dict]:
    """The newest `limit` log records of a run (of one plugin, of some levels), oldest first."""
    query: dict = {"run_id": run_id}
    if plugin:
        query["plugin"] = plugin
    if levels is not None:
        query["level"] = {"$in": list(levels)}
    found = list(db["logs"].find(query, {"_id": 0}).sort("seq", DESCENDING).limit(limit))
    return found[::-1]
