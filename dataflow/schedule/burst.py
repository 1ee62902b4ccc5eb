"""A tick's fire times claimed, then their runs started: the part of a tick at the due
instant. Every fire time is claimed — `{_id: its fire record's id}` inserted into
`schedule_claims`, all in one `insert_many(ordered=False)` — BEFORE its run is triggered,
and a run is triggered only when its claim held. The runs are started and handed to Dask
together (`RunService.trigger_many`); each run's fire record gets `submitted`: when the
call handing its graph to Dask returned. The fire records are stored after (FireBatch).

(Claiming in chunks, the next chunk's claim in flight while the runs of the one before
start, was measured slower: the store then also writes the first runs' records.)
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from dataflow.errors import PreconditionUnmet
from dataflow.run.batch_trigger import BurstReads, TriggerRequest
from dataflow.schedule.upstream import unmet_fields
from dataflow.store.schedules import FIRES, FireOutcome, claim_fires

if TYPE_CHECKING:
    from dataflow.run.service import RunService
    from dataflow.schedule.policy import SchedulePolicy

log = logging.getLogger("dataflow.schedule")
TRIGGER = "schedule"        # the runs' `trigger`
Start = tuple[dict, "SchedulePolicy", list[str]]     # record, policy, runs to cancel first


class Burst:
    """The runs to start of one tick and how to start them."""

    def __init__(self, service: RunService, clock_now: Callable[[], datetime],
                 on_started: Callable[[dict, str], None], reads: BurstReads | None):
        self.service, self.clock_now, self.on_started = service, clock_now, on_started
        self.reads = reads
        self.changes: dict[str, dict] = {}      # record id: its new fields
        self.claimed: set[str] = set()

    def claim_and_start(self, db, records: list[dict], starts: dict[str, Start],
                        first: list[Start]) -> set[str]:
        """Claim the fire times of `records` in one insert, then start `first` (which need
        no claim) and the run of each claimed record of `starts`, together; the ids
        claimed (also kept in `claimed`, for the caller to store those records)."""
        self.claimed = claimed = claim_fires(db, records)
        self.start(first + [start for key, start in starts.items() if key in claimed])
        return claimed

    def start(self, starts: list[Start]) -> None:
        """Cancel the runs to make room, then start these runs together, in order; their
        records' new fields go to `changes` (to be recorded)."""
        if not starts:
            return
        service = self.service
        cancelled = {record["_id"]: [run_id for run_id in cancel if _cancelled(service, run_id)]
                     for record, _, cancel in starts}
        stamps: dict[str, tuple[datetime, float]] = {}

        def submitted(run_ids: list[str]) -> None:
            stamps.update(dict.fromkeys(run_ids, (self.clock_now(), time.time())))
        outcomes = service.trigger_many([TriggerRequest(policy.pipeline, TRIGGER, {
            "schedule": policy.schedule, "logical_time": record["logical_time"]})
            for record, policy, _ in starts], self.reads, submitted)
        after = (self.clock_now(), time.time())          # a run with no task to submit
        for (record, policy, _), outcome in zip(starts, outcomes):
            if isinstance(outcome, Exception):
                fields = _refused(policy, record, outcome)
            else:
                stamp = stamps.get(outcome, after)
                fields = {"run_id": outcome, "submitted": stamp[0], "submitted_wall": stamp[1]}
                if cancelled[record["_id"]]:
                    fields["cancelled_runs"] = cancelled[record["_id"]]
                self.on_started({**record, **fields}, outcome)
            self.changes[record["_id"]] = fields

    def record(self) -> None:
        """The records' new fields, through the Recorder (off the critical path)."""
        for key, fields in self.changes.items():
            self.service.project.recorder.record(FIRES, key, fields)


def _refused(policy: SchedulePolicy, record: dict, error: Exception) -> dict:
    """A fire record's new fields when its run did not start."""
    if isinstance(error, PreconditionUnmet):    # upstream stale / gate closed: refused or waiting
        return unmet_fields(error)
    log.warning("scheduled run of %s (%s) could not start: %s", policy.pipeline,
                record["logical_time"].isoformat(), error)
    return {"outcome": FireOutcome.SKIPPED, "reason": f"could not start: {error}"}


def _cancelled(service: RunService, run_id: str) -> bool:
    """Cancel an active run to make room (cancel_running); False if it ended already or
    is one of this tick's own fire records."""
    if ":" in run_id:               # a fire id standing in for a run started this tick
        return False
    try:
        service.cancel(run_id)
    except Exception as error:      # noqa: BLE001 -- it ended meanwhile, or its process is gone
        log.info("could not cancel run %s to make room: %s", run_id, error)
        return False
    return True
