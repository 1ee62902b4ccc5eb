"""Which fire times of one pipeline to run now, given the last one handled and the
clock: the `catchup` and `paused` rules of `SchedulePolicy`, as one pure decision.

The window a decision looks at is every fire time in (start, now], where start is the
`last_fired` the caller persisted, or — for a pipeline that never fired — `started_at`,
the moment the scheduler began watching it (its loop started, or the pipeline appeared).
Fire times at or before `started_at` of a never-fired pipeline are never run nor
recorded. A fire time is *on time* when `now - fire_time <= grace_seconds`; any other
fire time in the window was missed.

    paused  nothing fires; every fire time in the window is dropped, reason "paused"
    skip    the newest fire time fires if on time; every other one is dropped
    latest  the newest fire time fires, on time or not; every other one is dropped
    all     the newest `max_catchup` fire times fire, oldest first; older ones dropped

Dropped fire times are for the caller to record as skipped with `reason`, e.g.
"missed (catchup: skip)". The caller then persists `decision.last_fired` (the newest
fire time in the window, fired or dropped), so no fire time is decided twice.
"""
from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from dataflow.schedule.cron import iter_fire_times
from dataflow.schedule.policy import Catchup, SchedulePolicy

# At most this many dropped fire times (the newest) are listed in a decision, so a long
# outage of a per-minute schedule does not become thousands of records; all are counted.
MAX_DROPPED_LISTED = 100
PAUSED_REASON = "paused"


@dataclass(frozen=True)
class FireDecision:
    """What to do with the fire times that came due: run `fire` now (oldest first),
    record `dropped` as skipped with `reason`, then persist `last_fired`."""

    fire: tuple[datetime, ...] = ()
    dropped: tuple[datetime, ...] = ()      # newest MAX_DROPPED_LISTED, oldest first
    dropped_count: int = 0                  # every dropped fire time, listed or not
    reason: str = ""                        # why the dropped ones were dropped
    last_fired: datetime | None = None      # the caller's new `last_fired`


@functools.lru_cache(maxsize=1024)     # pure: pipelines sharing a schedule share the answer
def _window(schedule: str, zone: tzinfo, start: datetime, now: datetime, keep: int
            ) -> tuple[list[datetime], int]:
    """The newest `keep` fire times in (start, now], oldest first, and how many there are."""
    newest: deque[datetime] = deque(maxlen=keep)
    total = 0
    for instant in iter_fire_times(schedule, zone, start):
        if instant > now:
            break
        newest.append(instant)
        total += 1
    return list(newest), total


def _chosen(policy: SchedulePolicy, window: list[datetime], now: datetime) -> list[datetime]:
    """The fire times of `window` (non-empty, oldest first) that run now."""
    if policy.paused:
        return []
    if policy.catchup == Catchup.ALL:
        return window[-policy.max_catchup:]
    newest = window[-1]
    on_time = now - newest <= timedelta(seconds=policy.grace_seconds)
    if policy.catchup == Catchup.LATEST or on_time:
        return [newest]
    return []


def _reason(policy: SchedulePolicy) -> str:
    if policy.paused:
        return PAUSED_REASON
    if policy.catchup == Catchup.ALL:
        return f"missed (catchup: all, beyond max_catchup: {policy.max_catchup})"
    return f"missed (catchup: {policy.catchup})"


def due_fires(policy: SchedulePolicy, last_fired: datetime | None, now: datetime, *,
              started_at: datetime) -> FireDecision:
    """Which fire times in (last_fired or started_at, now] run now and which are dropped
    (see the module docstring for the exact rules)."""
    start = last_fired if last_fired is not None else started_at
    window, total = _window(policy.schedule, policy.zone, start, now,
                            policy.max_catchup + MAX_DROPPED_LISTED)
    window = list(window)                   # the cached list stays as it is
    if not window:
        return FireDecision(last_fired=last_fired)
    fire = _chosen(policy, window, now)
    dropped = [instant for instant in window if instant not in fire]
    return FireDecision(fire=tuple(fire), dropped=tuple(dropped[-MAX_DROPPED_LISTED:]),
                        dropped_count=total - len(fire),
                        reason=_reason(policy) if total > len(fire) else "",
                        last_fired=window[-1])
