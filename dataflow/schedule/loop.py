"""The cron loop: fires scheduled pipelines through a RunService, inside `dataflow serve`
or standalone (`dataflow scheduler`).

Each tick: take or renew the lease (only its holder fires), read the pipelines and pause
overrides, decide the fire times due (`due_fires`, `overlap_action`), claim each one
(`schedule_claims`) before triggering its run, store its record (`schedule_fires`),
persist each pipeline's last fire time
(`schedule_state`). Between ticks it sleeps until the next fire time, but never longer
than a third of the lease (nor `MAX_SLEEP_SECONDS`); it wakes 1.5 s before a fire time
to read ahead (schedule/ahead.py): at the instant it only decides, claims and submits.

    loop = SchedulerLoop(service).start()       # a BackgroundThread
    loop.status()                               # for /health and the UI
    loop.stop()                                 # lease released, stop recorded
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dataflow.background import BackgroundThread
from dataflow.schedule.ahead import (Reads, active_runs_now, gc_paused, read_ahead,
                                     read_now, time_to_prepare, wake_before)
from dataflow.schedule.catchup import due_fires
from dataflow.schedule.clock import (MAX_SLEEP_SECONDS, Clock, SystemClock,
                                     bounded_sleep_seconds)
from dataflow.schedule.firing import FireBatch, state_changes
from dataflow.schedule.lease import Lease, default_holder
from dataflow.schedule.roster import Roster
from dataflow.schedule.start_lag import StartLag
from dataflow.schedule.status import loop_health, loop_status
from dataflow.schedule.upstream import UpstreamWatcher
from dataflow.store import schedules as store

if TYPE_CHECKING:
    from dataflow.run.service import RunService

log = logging.getLogger("dataflow.schedule")
QUEUE_POLL = 1.0                    # seconds between ticks while fire times are queued
RETENTION = timedelta(days=30)      # fire records older than this are deleted
PRUNE_EVERY = timedelta(hours=1)
STOP_WAIT = 30.0                    # seconds stop() waits for a tick in progress


class SchedulerLoop:
    """Fires the project's scheduled pipelines through `service` (see the module doc).

    `listeners` get `(kind, data)`: "fire" with each fire record as written, "first_task"
    with {pipeline, run_id, seconds} (submitted → first task started), "tick" with
    {time, holding}. Runs it starts report through `on_event`, registered on `service`.
    """

    def __init__(self, service: RunService, clock: Clock | None = None,
                 lease_ttl: float = 15.0, holder: str | None = None):
        self.service, self.clock, self.lease_ttl = service, clock or SystemClock(), lease_ttl
        self.lease = Lease(lambda: self.db, holder or default_holder(), lease_ttl)
        self.roster = Roster()
        self.listeners: list[Callable[[str, dict], None]] = []
        self.last_tick: datetime | None = None
        self._queued: dict[str, list[dict]] = {}            # pipeline -> queued fire records
        self.start_lag = StartLag()                          # submitted → first task
        self._thread: BackgroundThread | None = None
        self._pruned, self._last_pipelines = None, None    # type: datetime | None, dict | None
        self._planned_for: datetime | None = None           # the fire time planned ahead
        self._ahead: Reads | None = None                    # reads made for the next one
        self._ahead_for: datetime | None = None             # ... tried for that fire time
        service.add_listener(self.on_event)
        self.upstream = UpstreamWatcher(self)       # waiting fires, schedule: on_upstream

    @property
    def holder(self) -> str:
        return self.lease.holder

    @property
    def holding(self) -> bool:
        return self.lease.holding

    @property
    def db(self):
        return self.service.project.db

    # --- the thread --------------------------------------------------------------------
    def start(self) -> SchedulerLoop:
        self._thread = BackgroundThread("dataflow-scheduler", self._run, STOP_WAIT).start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread (a tick in progress ends first); True once it has ended."""
        return True if self._thread is None else self._thread.stop(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, stopping: threading.Event) -> None:
        reason = "stopped"
        try:
            while not stopping.is_set():
                try:
                    next_due = self.tick()
                except Exception:       # store down, a bug: logged, tried again soon
                    log.exception("scheduler tick failed; trying again")
                    next_due = None
                self._wait(self.sleep_seconds(next_due), stopping)
        except BaseException as error:
            reason = f"failed: {error!r}"
            raise
        finally:
            self.close(reason)

    def _wait(self, seconds: float, stopping: threading.Event) -> None:
        """Sleep; a stop cuts it short (a FakeClock just moves on at once)."""
        stopping.wait(seconds) if isinstance(self.clock, SystemClock) else self.clock.sleep(seconds)

    def sleep_seconds(self, next_due: datetime | None) -> float:
        """How long to sleep before the next tick: until `next_due`, bounded by a third of
        the lease (and by QUEUE_POLL while fire times are queued)."""
        bound = min(MAX_SLEEP_SECONDS, self.lease_ttl / 3)
        if any(self._queued.values()):
            bound = min(bound, QUEUE_POLL)
        if next_due is not None and self._ahead_for != next_due:
            next_due = wake_before(next_due)        # first wake to read ahead
        return bounded_sleep_seconds(self.clock.now(), next_due, bound)

    def close(self, reason: str = "stopped") -> None:
        """Give the lease up and record the stop (the thread does this as it ends)."""
        try:
            self.service.project.recorder.flush(STOP_WAIT)     # state stored, then the lease
            self.lease.release(self.clock.now(), reason)
        except Exception:
            log.exception("scheduler %s could not record its stop", self.holder)
        self.roster.reset()

    # --- one pass --------------------------------------------------------------------
    def tick(self) -> datetime | None:
        """Renew the lease and, holding it, fire what is due; the next fire time (None
        when nothing is scheduled or another loop holds the lease)."""
        db, now, held = self.db, self.clock.now(), self.holding
        ahead, self._ahead = self._ahead, None
        ready = ahead if ahead is not None and held and ahead.usable(now) else None
        holding = held if ready is not None else self._renew(db, now, held)
        self.last_tick, next_due = now, None
        if holding:
            with gc_paused(ready is not None):       # the instant: decide, claim, submit
                next_due = self._fire_due(db, now, ready or read_now(self, db))
            if ready is not None:               # read ahead: renewed after the burst
                holding = self._renew(db, self.clock.now(), held)
            if holding:
                self._housekeep(db, now, next_due)
        self._notify("tick", {"time": now, "holding": holding})
        return next_due

    def _renew(self, db, now: datetime, held: bool) -> bool:
        holding = self.lease.renew(now)
        if holding != held:
            self._lease_changed(db, holding)
        return holding

    def _lease_changed(self, db, holding: bool) -> None:
        """Taking the lease: read where every pipeline stands, and the queue, afresh."""
        self.roster.reset()
        self._queued = {}
        for record in store.queued_fires(db) if holding else ():
            self._queued.setdefault(record["pipeline"], []).append(record)

    def _fire_due(self, db, now: datetime, reads: Reads) -> datetime | None:
        new = self.roster.sync(reads.pipelines, reads.overrides,
                               lambda names: store.pipeline_states(db, names), now)
        if new:
            store.save_states(db, {name: {"watched_since": now} for name in new}, now)
        due = self.roster.due(now)
        waiting = [name for name, queue in self._queued.items()
                   if queue and name in self.roster.entries]
        if not due and not waiting:
            return self.roster.next_due()
        batch = FireBatch(now, self.holder, active_runs_now(self, db, reads), self._queued)
        for name in waiting:
            batch.dequeue(self.roster.entries[name].policy)
        decisions = {}
        for entry in due:
            decisions[entry.name] = decision = due_fires(entry.policy, entry.last_fired, now,
                                                         started_at=entry.started_at)
            batch.drop(entry.policy, decision)
            for logical_time in decision.fire:
                batch.fire(entry.policy, logical_time)
        records = batch.commit(db, self.service, self.clock.now, self._started, reads.burst)
        for entry in due:
            entry.handled(decisions[entry.name].last_fired)
        for name, fields in state_changes(due, records).items():    # through the Recorder
            self.service.project.recorder.record(store.STATE, name, {**fields, "updated": now})
        for record in records:
            self._notify("fire", record)
        return self.roster.next_due()

    def _started(self, record: dict, run_id: str) -> None:
        """A run was triggered: follow it; renew the lease during a
        long burst, so a standby loop does not take over from a busy one."""
        lag = self.start_lag.submitted(run_id, record["pipeline"], record.get("submitted_wall"))
        if lag is not None:         # it started before the burst's trigger returned
            self._notify("first_task", {"pipeline": record["pipeline"], "run_id": run_id,
                                        "seconds": lag})
        self.lease.renew_if_due(self.clock.now())

    def _housekeep(self, db, now: datetime, next_due: datetime | None) -> None:
        """Prune old fire records (hourly); plan the runs of the next fire time ahead, so
        its burst only checks the plans (run/batch_trigger.py); just before it, make its
        tick's reads (schedule/ahead.py)."""
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            store.prune_fires(db, now - RETENTION)
        if next_due is not None and next_due != self._planned_for:
            self._planned_for = next_due
            self.service.plan_ahead(self.roster.due_at(next_due))
        if next_due is not None and next_due != self._ahead_for and time_to_prepare(
                self.clock.now(), next_due):
            self._ahead_for = next_due
            self._ahead = read_ahead(self, db, next_due)

    # --- what others see ---------------------------------------------------------------
    def on_event(self, event: dict) -> None:
        """A run event (RunService listener): the first task_started of a run this loop
        started gives the submitted → first task started lag, once per run."""
        if event.get("kind") != "task_started":
            return
        found = self.start_lag.started(str(event.get("run_id")),
                                       float(event.get("started") or time.time()))
        if found is not None:
            self._notify("first_task", {"pipeline": found[0], "run_id": event["run_id"],
                                        "seconds": found[1]})

    def _notify(self, kind: str, data: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:
                log.exception("scheduler listener failed on %s", kind)

    def queued_count(self) -> int:
        return sum(len(queue) for queue in self._queued.values())

    def status(self) -> dict:
        """The lease, the last tick and where each pipeline stands, as plain data."""
        return loop_status(self)

    def health(self) -> dict:
        """For /health: {"ok": bool, ...}; ok while running and ticking."""
        return loop_health(self)
