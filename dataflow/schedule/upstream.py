"""The scheduler and dependencies (spec 003) and gates (spec 002).

    unmet_fields(error)     a fire whose trigger raised PreconditionUnmet (an upstream
                            not fresh, a gate closed): outcome `refused`, or `waiting`
                            (the pipeline's `on_unmet: wait`), with the reason
    UpstreamWatcher(loop)   a loop listener; at each tick while the loop holds the lease:
                            - waiting fires are tried again: started once their upstream
                              is fresh (and gates open), refused at the next fire time
                            - `schedule: on_upstream` pipelines fire once everything
                              they need completed after their own last run started

An on_upstream fire is claimed like a cron one, under "<pipeline>:<newest upstream
finish>", so two loops (or two ticks) never start it twice for the same upstream data.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from dataflow.alerts.absence import as_utc
from dataflow.config.dependencies import dependency_graph, runners, upstream
from dataflow.config.pipelines import ON_UPSTREAM
from dataflow.errors import DataflowError, PreconditionUnmet
from dataflow.store.freshness import last_provided, last_started
from dataflow.store.schedules import (FIRES, FireOutcome, active_runs_by_pipeline,
                                      claim_and_store, fire_id)

if TYPE_CHECKING:
    from dataflow.schedule.loop import SchedulerLoop

log = logging.getLogger("dataflow.schedule")
TRIGGER = "schedule"


def unmet_fields(error: PreconditionUnmet) -> dict:
    """A fire record's new fields when its run was refused before it started."""
    return {"outcome": FireOutcome.WAITING if error.wait else FireOutcome.REFUSED,
            "reason": error.reason or str(error)}


class UpstreamWatcher:
    """Waiting fires and on_upstream pipelines of one loop (see the module doc)."""

    def __init__(self, loop: SchedulerLoop):
        self.loop = loop
        self.waiting: dict[str, dict] = {}          # pipeline -> its waiting fire record
        loop.listeners.append(self)

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "fire" and data.get("outcome") == FireOutcome.WAITING:
            self._wait(data)
        elif kind == "tick" and data.get("holding"):
            self.tick(data["time"])

    def _wait(self, record: dict) -> None:
        old = self.waiting.get(record["pipeline"])
        if old is not None and old["_id"] != record["_id"]:
            self._settle(old, {"outcome": FireOutcome.REFUSED, "reason": "still waiting at "
                               f"the next fire time: {old['reason']}"})
        self.waiting[record["pipeline"]] = record

    def tick(self, now: datetime) -> None:
        try:
            self._retry(now)
            self._on_upstream(now)
        except DataflowError as error:      # config broken, store down: next tick
            log.warning("scheduler: dependencies not checked this tick: %s", error)

    # --- waiting fires ---------------------------------------------------------------
    def _deadline(self, record: dict) -> datetime | None:
        """The pipeline's next fire time after this one (None: on_upstream, no deadline)."""
        if record.get("schedule") == ON_UPSTREAM:
            return None
        entry = self.loop.roster.entries.get(record["pipeline"])
        if entry is None:
            return record["logical_time"]          # no longer scheduled: give up now
        upcoming = entry.policy.fire_times(record["logical_time"], count=1)
        return upcoming[0] if upcoming else None

    def _retry(self, now: datetime) -> None:
        for name, record in list(self.waiting.items()):
            deadline = self._deadline(record)
            if deadline is not None and now >= deadline:
                del self.waiting[name]
                self._settle(record, {"outcome": FireOutcome.REFUSED,
                                      "reason": f"gave up waiting: {record['reason']}"})
                continue
            fields = self._trigger(record)
            if fields["outcome"] != FireOutcome.WAITING:
                del self.waiting[name]
                self._settle(record, fields)

    def _trigger(self, record: dict) -> dict:
        """Trigger the record's run; the record's new fields (started, or why not)."""
        service = self.loop.service
        try:
            run_id = service.trigger(record["pipeline"], trigger=TRIGGER, run_fields={
                "schedule": record.get("schedule"), "logical_time": record["logical_time"]})
        except PreconditionUnmet as error:
            return unmet_fields(error)
        except Exception as error:      # noqa: BLE001 -- a broken pipeline must not stop the loop
            log.warning("scheduled run of %s could not start: %s", record["pipeline"], error)
            return {"outcome": FireOutcome.SKIPPED, "reason": f"could not start: {error}"}
        return {"outcome": FireOutcome.STARTED, "run_id": run_id,
                "submitted": self.loop.clock.now(),
                "reason": record.get("start_reason") or f"started after waiting "
                                                        f"({record['reason']})"}

    def _settle(self, record: dict, fields: dict) -> None:
        """Store the record's new fields and tell the loop's other listeners (metrics)."""
        record.update(fields)
        self.loop.service.project.recorder.record(FIRES, record["_id"], fields)
        for listener in [item for item in self.loop.listeners if item is not self]:
            try:
                listener("fire", record)
            except Exception:
                log.exception("scheduler listener failed on a fire record")

    # --- schedule: on_upstream -----------------------------------------------------
    def _on_upstream(self, now: datetime) -> None:
        pipelines = self.loop.service.project.yaml_pipelines.pipelines
        watched = [name for name, p in pipelines.items()
                   if p.on_upstream and p.enabled and name not in self.waiting]
        if not watched:
            return
        db = self.loop.db
        needs = {name: upstream(pipelines, name) for name in watched}
        ups = sorted({up for names in needs.values() for up in names})
        provided = last_provided(db, ups, runners(dependency_graph(pipelines), ups))
        started, active = last_started(db, watched), active_runs_by_pipeline(db)
        for name in watched:
            times = [provided[up] for up in needs[name]]
            if not times or name in active or any(when is None for when in times):
                continue
            mine = started[name]
            if mine is not None and any(as_utc(t) <= as_utc(mine) for t in times if t):
                continue
            self._fire_on_upstream(name, needs[name], max(as_utc(t) for t in times if t), now)

    def _fire_on_upstream(self, name: str, needs: list[str], newest: datetime,
                          now: datetime) -> None:
        reason = f"upstream fresh: {', '.join(needs)} completed since this pipeline last ran"
        record = {"_id": fire_id(name, newest), "pipeline": name, "logical_time": newest,
                  "due": newest, "decided": now, "outcome": FireOutcome.STARTED,
                  "reason": reason, "run_id": None, "holder": self.loop.holder,
                  "schedule": ON_UPSTREAM, "timezone": None}
        if not claim_and_store(self.loop.db, [record]):
            return              # this upstream data already fired it (here or elsewhere)
        fields = self._trigger({**record, "start_reason": reason})
        if fields["outcome"] == FireOutcome.WAITING:
            self.waiting[name] = record
        self._settle(record, fields)
