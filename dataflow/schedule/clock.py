"""The scheduler's only source of time: a `Clock` giving aware UTC `now()` and a
`sleep()`. `SystemClock` is the real one; `FakeClock` is moved by hand (and by its own
`sleep`), so tests drive the scheduler through DST nights without waiting.

`sleep_until_next` sleeps until the next fire time but never longer than
`MAX_SLEEP_SECONDS` (30), so a loop wakes often enough to heartbeat and notice stop
requests and schedule changes.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol

MAX_SLEEP_SECONDS = 30.0


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a negative or zero wait returns at once)."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told: `advance()`, `set()`, or `sleep()` (which
    advances it at once). `sleeps` lists every sleep asked for, in order."""

    def __init__(self, start: datetime):
        self._now = _utc(start)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def advance(self, by: float | timedelta) -> datetime:
        """Move forward by seconds or a timedelta; the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError(f"a FakeClock only moves forward, not by {step}")
        self._now += step
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an instant (backwards too, to test a clock that was corrected)."""
        self._now = _utc(when)
        return self._now


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"clock times must be timezone-aware, got {when!r}")
    return when.astimezone(timezone.utc)


def bounded_sleep_seconds(now: datetime, next_fire: datetime | None,
                          max_sleep: float = MAX_SLEEP_SECONDS) -> float:
    """Seconds to sleep from `now` towards `next_fire` (None: nothing scheduled):
    0 when it is already due, never more than `max_sleep`."""
    if next_fire is None:
        return max_sleep
    return min(max(0.0, (next_fire - now).total_seconds()), max_sleep)


def sleep_until_next(clock: Clock, next_fire: datetime | None,
                     max_sleep: float = MAX_SLEEP_SECONDS) -> float:
    """Sleep on `clock` towards `next_fire`, bounded as `bounded_sleep_seconds`; the
    seconds slept (0 when the fire time is already due)."""
    seconds = bounded_sleep_seconds(clock.now(), next_fire, max_sleep)
    if seconds > 0:
        clock.sleep(seconds)
    return seconds


def iso_utc(value):
    """An aware datetime as ISO 8601 in UTC; anything else (None) as it is."""
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else value
