"""A scheduler loop as plain data: its status (the lease, the last tick, where each
pipeline stands) for the UI and `/api/schedules`, and its health for `/health`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataflow.schedule.clock import iso_utc as _iso

if TYPE_CHECKING:
    from dataflow.schedule.loop import SchedulerLoop

STALE_TICK = 60.0       # seconds without a tick after which a running loop is unhealthy


def loop_status(loop: SchedulerLoop) -> dict:
    entries = list(loop.roster.entries.values())
    return {"holder": loop.holder, "running": loop.is_alive(), "holding": loop.holding,
            "lease_holder": loop.lease.lease_holder, "lease_ttl": loop.lease_ttl,
            "last_tick": _iso(loop.last_tick), "queued": loop.queued_count(),
            "pipelines": {e.name: {"next_fire": _iso(e.next_fire),
                                   "last_fired": _iso(e.last_fired),
                                   "paused": e.policy.paused} for e in entries},
            "invalid": {name: [str(problem) for problem in problems]
                        for name, problems in loop.roster.invalid.items()}}


def loop_health(loop: SchedulerLoop) -> dict:
    """ok while its thread runs and it ticked within STALE_TICK seconds (firing, or
    standing by while another loop holds the lease)."""
    age = None if loop.last_tick is None else (loop.clock.now() - loop.last_tick).total_seconds()
    return {"ok": loop.is_alive() and (age is None or age < STALE_TICK),
            "holding": loop.holding, "lease_holder": loop.lease.lease_holder,
            "last_tick": _iso(loop.last_tick),
            "seconds_since_tick": None if age is None else round(age, 1)}
