"""A pipeline's schedule as plain data — its policy and the fire times ahead — for
`dataflow schedule --next 24h` and `/api/schedules`, and the parser of that "24h"."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from dataflow.errors import InvalidInput
from dataflow.schedule.policy import SchedulePolicy

HORIZON_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
MAX_HORIZON = timedelta(days=366)
DESCRIBE_LIMIT = 100        # fire times listed at most; `truncated` tells when there are more
_HORIZON = re.compile(r"\s*([0-9]+)\s*([a-zA-Z]+)\s*")
HORIZON_FIX = ("give a whole number and a unit: m (minutes), h (hours) or d (days), "
               "e.g. 90m, 24h, 2d")


def parse_horizon(text: str) -> timedelta:
    """'90m', '24h', '2d' as a timedelta; a DataflowError saying how to write it otherwise."""
    match = _HORIZON.fullmatch(text) if isinstance(text, str) else None
    unit = HORIZON_UNITS.get(match.group(2).lower()) if match else None
    if unit is None or match is None:
        raise InvalidInput(f"invalid horizon {text!r}: {HORIZON_FIX}")
    amount = int(match.group(1))
    if amount == 0:
        raise InvalidInput(f"invalid horizon {text!r}: it must be longer than zero; {HORIZON_FIX}")
    if amount > MAX_HORIZON // unit:
        raise InvalidInput(f"invalid horizon {text!r}: at most {MAX_HORIZON.days}d ahead")
    return amount * unit


def describe_schedule(policy: SchedulePolicy, now: datetime, horizon: timedelta,
                      limit: int = DESCRIBE_LIMIT) -> dict:
    """The policy's settings and the fire times in (now, now + horizon], each in UTC and
    in the pipeline's time zone (ISO 8601 text); a paused pipeline lists none."""
    upcoming = [] if policy.paused else policy.fire_times(now, count=limit + 1,
                                                          until=now + horizon)
    zone = policy.zone
    return {
        "pipeline": policy.pipeline,
        **policy.as_mapping(),
        "active_run_limit": policy.active_run_limit,
        "now": now.astimezone(timezone.utc).isoformat(),
        "horizon_seconds": int(horizon.total_seconds()),
        "next_fires": [{"utc": instant.isoformat(), "local": instant.astimezone(zone).isoformat()}
                       for instant in upcoming[:limit]],
        "truncated": len(upcoming) > limit,
    }
