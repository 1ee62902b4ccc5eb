"""What a tick reads before it decides — the pause overrides, the pipelines, the active
runs in the store, the burst's pipelines and configs — read AHEAD of a fire time, so the
tick at the due instant only decides (in memory), claims and submits.

The loop wakes `PREPARE_AHEAD` seconds before its next fire time, ticks as usual (lease
renewed), and keeps these reads (`Reads`). The tick at the fire time uses them when they
are at most `FRESH_FOR` seconds old (real time) and the loop held the lease throughout:
it renews the lease after its burst instead of before. What they cannot see — a pause
set, a pipeline changed, another process's run ended in that last second and a half —
counts from the next tick. This process's own runs are taken at the instant (in memory).
Claims are made at the instant, as always: fire times are never decided ahead.

During that tick's decisions, claim and submit, Python's cyclic garbage collector is held
off (`gc_paused`): a full collection of a busy server's heap takes a good part of a
second, and would otherwise land in the middle of the burst. It runs once it is over.
"""
from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dataflow.errors import DataflowError
from dataflow.schedule.active import active_runs
from dataflow.store import schedules as store

if TYPE_CHECKING:
    from dataflow.run.batch_trigger import BurstReads
    from dataflow.schedule.loop import SchedulerLoop

log = logging.getLogger("dataflow.schedule")
PREPARE_AHEAD = 1.5     # seconds before a fire time its tick's reads are made
SLACK = 0.25            # a tick this much earlier than that still prepares
FRESH_FOR = 5.0         # seconds (real time) reads made ahead stay usable


@dataclass
class Reads:
    """One tick's reads. `due`: the fire time they were made ahead for (None: read by
    the tick itself); `taken`: time.monotonic() before the first read."""

    overrides: dict[str, bool]
    pipelines: dict
    taken: float
    due: datetime | None = None
    stored_active: dict[str, list[dict]] | None = None     # None: read at the tick
    burst: BurstReads | None = None                        # None: trigger_many reads

    def usable(self, now: datetime) -> bool:
        """Whether a tick at `now` may use them: it is the fire time or later, and
        they are fresh."""
        return (self.due is not None and now >= self.due
                and time.monotonic() - self.taken <= FRESH_FOR)


def read_now(loop: SchedulerLoop, db) -> Reads:
    """The reads a tick makes for itself: pause overrides and pipelines."""
    taken = time.monotonic()
    overrides = {name: doc["paused"] for name, doc in store.pause_overrides(db).items()}
    return Reads(overrides, pipelines(loop), taken)


def pipelines(loop: SchedulerLoop) -> dict:
    """The project's pipelines; the last good ones while its config is broken (their
    runs then fail to start, and the fire records say why)."""
    try:
        loop._last_pipelines = loop.service.project.pipelines
    except DataflowError as error:
        if loop._last_pipelines is None:
            raise
        log.warning("scheduler: pipelines unreadable, using the last good ones: %s", error)
    return loop._last_pipelines


def active_runs_now(loop: SchedulerLoop, db, reads: Reads) -> dict[str, list[str]]:
    """{pipeline: active run ids, oldest first}: this process's runs as they are now
    (its Engine), other processes' as read ahead, else from the store now."""
    here = dict(loop.service.engine.active_runs)
    loop.start_lag.keep_only(here)
    stored = reads.stored_active
    return active_runs(store.active_runs_by_pipeline(db) if stored is None else stored, here)


def time_to_prepare(now: datetime, next_due: datetime) -> bool:
    """Whether `now` is within PREPARE_AHEAD (+ SLACK) of `next_due`."""
    return (next_due - now).total_seconds() <= PREPARE_AHEAD + SLACK


def wake_before(next_due: datetime | None) -> datetime | None:
    """When the loop wakes to prepare for `next_due`."""
    return None if next_due is None else next_due - timedelta(seconds=PREPARE_AHEAD)


def read_ahead(loop: SchedulerLoop, db, due: datetime) -> Reads | None:
    """Every read of the tick at `due`, made now (None if one failed: that tick reads)."""
    try:
        reads = read_now(loop, db)
        reads.due = due
        reads.stored_active = store.active_runs_by_pipeline(db)
        reads.burst = loop.service.plan_ahead(loop.roster.due_at(due))
    except Exception:       # store down, config broken: the tick itself reads, and says why
        log.exception("scheduler: could not read ahead for %s", due.isoformat())
        return None
    return reads


@contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Hold the cyclic garbage collector off inside the block (if `pause` and it is on)."""
    held = pause and gc.isenabled()
    if held:
        gc.disable()
    try:
        yield
    finally:
        if held:
            gc.enable()
