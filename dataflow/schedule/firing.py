"""One tick's fire times, decided and acted on together: every decision becomes a fire
record (`store.schedules`), its fire time claimed under the record's unique id BEFORE a
run is triggered (schedule/burst.py), so no fire time is ever started twice, whoever else
is deciding it; the claimed records are stored once the runs are submitted.

    missed / paused   fire times `due_fires` dropped (catch-up policy, or paused)
    started           `overlap_action` said start (cancel_running: the oldest active
                      runs are cancelled first); the run is triggered once the claim holds
    skipped           at the active-run limit (overlap skip/allow), a full queue, or the
                      trigger refused (e.g. the pipeline's plugins are broken)
    queued            at the limit with overlap queue: started by a later tick once a
                      run ended (at most `max_catchup` wait per pipeline)
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from dataflow.schedule.burst import Burst
from dataflow.schedule.catchup import FireDecision
from dataflow.schedule.overlap import OverlapAction, overlap_action
from dataflow.schedule.policy import SchedulePolicy
from dataflow.store.schedules import FireOutcome, fire_id, store_fires, take_queued

if TYPE_CHECKING:
    from dataflow.run.batch_trigger import BurstReads
    from dataflow.run.service import RunService

log = logging.getLogger("dataflow.schedule")
_STARTING = (OverlapAction.START, OverlapAction.CANCEL_RUNNING)


def fire_record(policy: SchedulePolicy, logical_time: datetime, now: datetime, holder: str,
                outcome: FireOutcome, reason: str) -> dict:
    return {"_id": fire_id(policy.pipeline, logical_time), "pipeline": policy.pipeline,
            "logical_time": logical_time, "due": logical_time, "decided": now,
            "outcome": outcome, "reason": reason, "run_id": None, "holder": holder,
            "schedule": policy.schedule, "timezone": policy.timezone}


class FireBatch:
    """Decisions of one tick over `active` ({pipeline: active run ids, oldest first}),
    then `commit`: claim, cancel, trigger, store the records."""

    def __init__(self, now: datetime, holder: str, active: dict[str, list[str]],
                 queued: dict[str, list[dict]]):
        self.now, self.holder, self.active, self.queued = now, holder, active, queued
        self.records: list[dict] = []                            # new fire records
        self.starts: list[tuple[dict, SchedulePolicy, list[str]]] = []   # record, cancel ids
        self.dequeued: list[tuple[dict, SchedulePolicy, list[str]]] = []
        self.paused_queue: list[dict] = []

    def _running(self, pipeline: str) -> list[str]:
        return self.active.setdefault(pipeline, [])

    def drop(self, policy: SchedulePolicy, decision: FireDecision) -> None:
        """Record the fire times `due_fires` dropped, as missed or paused."""
        outcome = FireOutcome.PAUSED if policy.paused else FireOutcome.MISSED
        for index, logical_time in enumerate(decision.dropped):
            record = fire_record(policy, logical_time, self.now, self.holder, outcome,
                                 decision.reason)
            if index == 0 and decision.dropped_count > len(decision.dropped):
                record["earlier_dropped"] = decision.dropped_count - len(decision.dropped)
            self.records.append(record)

    def fire(self, policy: SchedulePolicy, logical_time: datetime) -> None:
        """A fire time `due_fires` chose: start, skip, queue or cancel-then-start it."""
        running = self._running(policy.pipeline)
        decision = overlap_action(policy, len(running))
        waiting = self.queued.setdefault(policy.pipeline, [])
        if decision.action == OverlapAction.QUEUE and len(waiting) >= policy.max_catchup:
            outcome, reason = FireOutcome.SKIPPED, (
                f"queue full: {len(waiting)} fire time(s) already queued "
                f"(max_catchup: {policy.max_catchup}); {decision.reason}")
        else:
            outcome, reason = {OverlapAction.SKIP: FireOutcome.SKIPPED,
                               OverlapAction.QUEUE: FireOutcome.QUEUED}.get(
                decision.action, FireOutcome.STARTED), decision.reason
        record = fire_record(policy, logical_time, self.now, self.holder, outcome, reason)
        self.records.append(record)
        if outcome == FireOutcome.QUEUED:
            waiting.append(record)
        elif outcome == FireOutcome.STARTED:
            self.starts.append((record, policy, running[:decision.cancel]))
            del running[:decision.cancel]
            running.append(record["_id"])       # counts as active for later fire times

    def dequeue(self, policy: SchedulePolicy) -> None:
        """Start the pipeline's queued fire times (oldest first) while the limit allows;
        a paused pipeline's queue is dropped as paused."""
        waiting, running = self.queued.get(policy.pipeline, []), self._running(policy.pipeline)
        if policy.paused:
            self.paused_queue += waiting
            waiting.clear()
        while waiting:
            decision = overlap_action(policy, len(running))
            if decision.action not in _STARTING:
                return
            record = waiting.pop(0)
            self.dequeued.append((record, policy, running[:decision.cancel]))
            del running[:decision.cancel]
            running.append(record["_id"])

    def commit(self, db, service: RunService, clock_now: Callable[[], datetime],
               on_started: Callable[[dict, str], None],
               reads: BurstReads | None = None) -> list[dict]:
        """Take the queued fire times that start now, then claim the new records and start
        what was claimed (schedule/burst.py: queued ones first, oldest first); every
        record this tick decided, as finally written. `reads`: the burst's, made ahead."""
        final, first = [], []
        for record, policy, cancel in self.dequeued:
            fields = {"outcome": FireOutcome.STARTED, "decided": self.now, "holder": self.holder,
                      "reason": f"started from the queue (queued: {record['reason']})"}
            if take_queued(db, record["_id"], fields):
                record.update(fields)
                first.append((record, policy, cancel))
                final.append(record)
        for record in self.paused_queue:
            fields = {"outcome": FireOutcome.PAUSED, "reason": "paused while queued",
                      "decided": self.now}
            if take_queued(db, record["_id"], fields):
                record.update(fields)
                final.append(record)
        starts = {record["_id"]: (record, policy, cancel) for record, policy, cancel in self.starts}
        burst = Burst(service, clock_now, on_started, reads)
        try:
            burst.claim_and_start(db, self.records, starts, first)
        finally:                                # what was claimed is stored, whatever happened
            claimed = burst.claimed
            new = [r for r in self.records if r["_id"] in claimed]
            for record in new:
                record.update(burst.changes.pop(record["_id"], {}))
            store_fires(db, new)                # the claimed records, with their run ids
            burst.record()                      # the dequeued ones' changes
        lost = [r["_id"] for r in self.records if r["_id"] not in claimed]
        if lost:
            log.warning("fire times decided by another loop, not started here: %s", lost)
        for record in final:
            record.update(burst.changes.get(record["_id"], {}))
        return new + final


def state_changes(due: list, records: list[dict]) -> dict[str, dict]:
    """What each pipeline's state document gets after a tick: the last fire time handled
    by each due entry, and the outcome of its newest fire record."""
    changes = {entry.name: {"last_fired": entry.last_fired} for entry in due}
    for record in sorted(records, key=lambda r: r["logical_time"]):
        changes.setdefault(record["pipeline"], {}).update(
            last_outcome=record["outcome"], last_reason=record["reason"],
            last_logical_time=record["logical_time"], last_run_id=record.get("run_id"))
    return changes
