"""One tick's fire times, decided and acted on together: every decision becomes a fire
record (`store.schedules`), claimed by inserting it under its unique id BEFORE a run is
triggered, so no fire time is ever started twice, whoever else is deciding it.

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
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from dataflow.errors import PreconditionUnmet
from dataflow.run.batch_trigger import TriggerRequest
from dataflow.schedule.catchup import FireDecision
from dataflow.schedule.overlap import OverlapAction, overlap_action
from dataflow.schedule.policy import SchedulePolicy
from dataflow.schedule.upstream import unmet_fields
from dataflow.store.schedules import FIRES, FireOutcome, claim_fires, fire_id, take_queued

if TYPE_CHECKING:
    from dataflow.run.service import RunService

log = logging.getLogger("dataflow.schedule")
TRIGGER = "schedule"        # the runs' `trigger`
_STARTING = (OverlapAction.START, OverlapAction.CANCEL_RUNNING)


def fire_record(policy: SchedulePolicy, logical_time: datetime, now: datetime, holder: str,
                outcome: FireOutcome, reason: str) -> dict:
    return {"_id": fire_id(policy.pipeline, logical_time), "pipeline": policy.pipeline,
            "logical_time": logical_time, "due": logical_time, "decided": now,
            "outcome": outcome, "reason": reason, "run_id": None, "holder": holder,
            "schedule": policy.schedule, "timezone": policy.timezone}


class FireBatch:
    """Decisions of one tick over `active` ({pipeline: active run ids, oldest first}),
    then `commit`: claim, cancel, trigger, record (run ids through the Recorder)."""

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
               on_started: Callable[[dict, str], None]) -> list[dict]:
        """Claim, then act on what was claimed (queued ones first, oldest first); every
        record this tick decided, as finally written."""
        claimed = claim_fires(db, self.records)
        lost = [r["_id"] for r in self.records if r["_id"] not in claimed]
        if lost:
            log.warning("fire times decided by another loop, not started here: %s", lost)
        final = [r for r in self.records if r["_id"] in claimed]
        starts = []
        for record, policy, cancel in self.dequeued:
            fields = {"outcome": FireOutcome.STARTED, "decided": self.now, "holder": self.holder,
                      "reason": f"started from the queue (queued: {record['reason']})"}
            if take_queued(db, record["_id"], fields):
                record.update(fields)
                starts.append((record, policy, cancel))
                final.append(record)
        for record in self.paused_queue:
            fields = {"outcome": FireOutcome.PAUSED, "reason": "paused while queued",
                      "decided": self.now}
            if take_queued(db, record["_id"], fields):
                record.update(fields)
                final.append(record)
        starts += [(r, p, c) for r, p, c in self.starts if r["_id"] in claimed]
        changes = self._start_all(starts, service, clock_now, on_started)
        for key, fields in changes.items():         # off the critical path: the Recorder
            service.project.recorder.record(FIRES, key, fields)
        for record in final:
            record.update(changes.get(record["_id"], {}))
        return final

    def _start_all(self, starts: list, service: RunService, clock_now: Callable[[], datetime],
                   on_started: Callable[[dict, str], None]) -> dict[str, dict]:
        """Cancel the runs to make room, then start the claimed runs together, oldest fire
        time first (`RunService.trigger_many`: one read of the pipelines and configs, one
        submit); each record's new fields."""
        cancelled = {record["_id"]: [run_id for run_id in cancel if _cancelled(service, run_id)]
                     for record, _, cancel in starts}
        outcomes = service.trigger_many([TriggerRequest(policy.pipeline, TRIGGER, {
            "schedule": policy.schedule, "logical_time": record["logical_time"]})
            for record, policy, _ in starts]) if starts else []
        submitted, wall = clock_now(), time.time()
        changes = {}
        for (record, policy, _), outcome in zip(starts, outcomes):
            if isinstance(outcome, Exception):
                changes[record["_id"]] = _refused(policy, record, outcome)
                continue
            fields = {"run_id": outcome, "submitted": submitted, "submitted_wall": wall}
            if cancelled[record["_id"]]:
                fields["cancelled_runs"] = cancelled[record["_id"]]
            on_started(record, outcome)
            changes[record["_id"]] = fields
        return changes


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


def state_changes(due: list, records: list[dict]) -> dict[str, dict]:
    """What each pipeline's state document gets after a tick: the last fire time handled
    by each due entry, and the outcome of its newest fire record."""
    changes = {entry.name: {"last_fired": entry.last_fired} for entry in due}
    for record in sorted(records, key=lambda r: r["logical_time"]):
        changes.setdefault(record["pipeline"], {}).update(
            last_outcome=record["outcome"], last_reason=record["reason"],
            last_logical_time=record["logical_time"], last_run_id=record.get("run_id"))
    return changes
