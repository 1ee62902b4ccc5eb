"""When a cron schedule fires: a 5-field cron expression evaluated on a time zone's wall
clock, returned as aware UTC instants, with daylight-saving transitions made explicit.

Daylight saving (the rules every caller relies on):

* A wall-clock time that does not exist (spring forward, e.g. 02:30 on the last Sunday
  of March in Europe/Berlin) fires once, at the first valid instant after it: the
  transition instant, 03:00 local. Several skipped times (02:00 and 02:30 of
  `*/30 * * * *`) and a real 03:00 fire all collapse into that one instant.
* A wall-clock time that happens twice (fall back, e.g. 01:30 on the first Sunday of
  November in America/New_York) fires once, at its first occurrence (before the clocks
  go back). This holds for every cron: `*/30 * * * *` fires 01:00 and 01:30 in the
  first pass only, so its fire times stay distinct instants but skip the repeated hour
  (a 90-minute gap from 01:30 EDT to 02:00 EST).
* No fire time is ever returned twice, and no day is ever skipped.

How: croniter iterates *naive* wall-clock times (no time zone, so no DST arithmetic of
its own), and `wall_to_instant` maps each to its instant. croniter 7 given aware
datetimes already fires a skipped time at the transition, but fires a repeated
wall-clock time twice (once per UTC offset); iterating naive times avoids that.
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from croniter import croniter, CroniterBadDateError

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_FIX = ("use five fields: minute hour day-of-month month day-of-week, "
            "e.g. '*/10 * * * *' (every 10 minutes) or '30 2 * * *' (02:30 every day)")
_CHECK_FROM = datetime(2000, 1, 1)      # any date: only "does it ever fire" is asked


def cron_error(cron: object) -> str | None:
    """Why `cron` is not a usable 5-field cron expression (None when it is)."""
    if not isinstance(cron, str) or not cron.strip():
        return f"the schedule must be a cron expression of {len(CRON_FIELDS)} fields, got {cron!r}"
    fields = cron.split()
    if len(fields) != len(CRON_FIELDS):
        return (f"invalid cron expression {cron!r}: it has {len(fields)} fields, "
                f"a schedule has {len(CRON_FIELDS)}")
    try:
        croniter(cron, _CHECK_FROM).get_next(datetime)
    except CroniterBadDateError:        # e.g. '0 0 30 2 *': no date ever matches
        return f"cron expression {cron!r} never fires: no date matches all its fields"
    except (ValueError, TypeError) as error:    # croniter's errors are ValueErrors
        return f"invalid cron expression {cron!r}: {error}"
    return None


def as_zone(tz: str | tzinfo) -> tzinfo:
    """A time zone from its IANA name (or an already-built tzinfo)."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def wall_exists(wall: datetime, zone: tzinfo) -> bool:
    """Whether the naive local time `wall` is ever shown by clocks in `zone`."""
    aware = wall.replace(tzinfo=zone, fold=0)
    shown = aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    return shown == wall


def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant after the non-existent local time `wall`: the DST transition."""
    bounds = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc)
                    for fold in (0, 1))
    low, high = bounds          # clocks show a time before `wall` at low, after it at high
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The aware UTC instant a naive local time names in `zone`: its first occurrence
    when it happens twice, the transition instant when it does not exist."""
    if wall_exists(wall, zone):
        return wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    return _gap_end(wall, zone)


CACHED_COUNT = 16         # next_fire_times(count <= this) answers are kept (small)


@functools.lru_cache(maxsize=4096)
def _parsed(cron: str) -> croniter:
    """The expression parsed (a croniter is copied and moved to a start, never reused)."""
    return croniter(cron, datetime(2000, 1, 1))


def iter_fire_times(cron: str, tz: str | tzinfo, after: datetime) -> Iterator[datetime]:
    """Every fire time strictly after the aware instant `after`, oldest first, endless."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError(f"`after` must be timezone-aware, got {after!r}")
    zone = as_zone(tz)
    walls = copy.copy(_parsed(cron))        # parsed once per expression
    walls.set_current(after.astimezone(zone).replace(tzinfo=None), force=True)
    last = after.astimezone(timezone.utc)
    while True:
        instant = wall_to_instant(walls.get_next(datetime), zone)
        if instant > last:      # drops a repeat, a collapsed gap time, or one before `after`
            last = instant
            yield instant


def next_fire_times(cron: str, tz: str | tzinfo, after: datetime, count: int | None = None,
                    until: datetime | None = None) -> list[datetime]:
    """Fire times strictly after `after`, oldest first, as aware UTC datetimes: at most
    `count` of them, none later than `until` (inclusive). Give `count`, `until` or both."""
    if count is None and until is None:
        raise ValueError("give `count`, `until` or both: the fire times never end")
    if until is None and count is not None and count <= CACHED_COUNT:
        return list(_next_few(cron, tz, after, count))
    return _next_fire_times(cron, tz, after, count, until)


@functools.lru_cache(maxsize=1024)     # pure: pipelines sharing a schedule share the answer
def _next_few(cron: str, tz: str | tzinfo, after: datetime, count: int) -> tuple[datetime, ...]:
    return tuple(_next_fire_times(cron, tz, after, count, None))


def _next_fire_times(cron: str, tz: str | tzinfo, after: datetime, count: int | None,
                     until: datetime | None) -> list[datetime]:
    times: list[datetime] = []
    if count is not None and count <= 0:
        return times
    for instant in iter_fire_times(cron, tz, after):
        if until is not None and instant > until:
            break
        times.append(instant)
        if count is not None and len(times) >= count:
            break
    return times
