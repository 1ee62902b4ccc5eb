"""Absence rules: alerts about what did *not* happen, a success or the end of a run.

No event announces a missing success, so these rules are pure functions of the
current facts and a time `now` (given, so that they test with fixed datetimes),
called periodically by whoever watches the store. Called again and again, they
would repeat themselves; `AbsenceLatch` lets each condition through once, until it
clears (then it may be raised anew).

Datetimes without a time zone are taken as UTC (what MongoDB returns).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone

from dataflow.alerts.alert import ABSENCE, OVERDUE, Alert


def as_utc(value: datetime | str) -> datetime:
    """An aware datetime from a datetime or an ISO string; naive means UTC."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float | int | None) -> timedelta | None:
    """"26h", "30m", "1h30m", "2d", "90s" (or a number of seconds) as a timedelta; None
    for None or text that is not such a span (pipelines.yaml's schema refuses it)."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    compact = re.sub(r"\s+", "", str(text))
    parts = DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        return None
    return timedelta(seconds=sum(float(n) * UNIT_SECONDS[u] for n, u in parts))


def span_text(span: timedelta | float) -> str:
    """A duration for people: "42 s", "5 min 3 s", "2 h 5 min", "3 d 4 h"."""
    seconds = int(span.total_seconds() if isinstance(span, timedelta) else span)
    units = [("d", 86400), ("h", 3600), ("min", 60), ("s", 1)]
    parts: list[str] = []
    for name, size in units:
        if seconds >= size or (name == "s" and not parts):
            parts.append(f"{seconds // size} {name}")
            seconds %= size
    return " ".join(parts[:2])


def stale_pipelines(last_success_by_pipeline: Mapping[str, datetime | None],
                    max_age_by_pipeline: Mapping[str, timedelta], now: datetime) -> list[Alert]:
    """An ABSENCE alert for each pipeline whose last success is older than its max data
    age, or that never succeeded. Pipelines without a max age are not watched."""
    now, alerts = as_utc(now), []
    for pipeline, max_age in sorted(max_age_by_pipeline.items()):
        last = last_success_by_pipeline.get(pipeline)
        last = as_utc(last) if last is not None else None
        if last is not None and now - last <= max_age:
            continue
        if last is None:
            text = f"Pipeline {pipeline} has no successful run on record."
        else:
            text = (f"Pipeline {pipeline} last succeeded {span_text(now - last)} ago "
                    f"({last.isoformat()}).")
        text += f" Its data may be at most {span_text(max_age)} old."
        details = (("last success", last.isoformat() if last else "never"),
                   ("max data age", span_text(max_age)))
        alerts.append(Alert(ABSENCE, f"{pipeline}: no successful run within {span_text(max_age)}",
                            text, pipeline=pipeline, details=details))
    return alerts


def overdue_runs(running: Iterable[Mapping], expected_by_pipeline: Mapping[str, timedelta],
                 now: datetime) -> list[Alert]:
    """An OVERDUE alert for each run (`{run_id, pipeline, started}`) still going past
    its pipeline's expected duration. Pipelines without one are not watched."""
    now, alerts = as_utc(now), []
    for run in running:
        pipeline, run_id = run["pipeline"], run["run_id"]
        expected = expected_by_pipeline.get(pipeline)
        if expected is None:
            continue
        started = as_utc(run["started"])
        elapsed = now - started
        if elapsed <= expected:
            continue
        text = (f"Run {run_id} of pipeline {pipeline} started {started.isoformat()} and is "
                f"still going after {span_text(elapsed)}; it is expected to take at most "
                f"{span_text(expected)}.")
        details = (("started", started.isoformat()), ("expected", span_text(expected)))
        alerts.append(Alert(OVERDUE, f"{pipeline}: run still going after {span_text(elapsed)}",
                            text, pipeline=pipeline, run_id=run_id, details=details))
    return alerts


class AbsenceLatch:
    """Lets each absence condition (level, pipeline, run) through once until it clears.

    Give it the complete current list of one rule each time: a condition missing from
    the list has cleared.
    """

    def __init__(self):
        self._raised: set[tuple] = set()
        self._lock = threading.Lock()

    def admit(self, alerts: Iterable[Alert]) -> list[Alert]:
        current = {(a.level, a.pipeline, a.run_id): a for a in alerts}
        with self._lock:
            new = [a for key, a in current.items() if key not in self._raised]
            self._raised = set(current)
        return new
