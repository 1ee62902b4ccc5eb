"""What `dataflow schedule` and `/api/schedules` show — each scheduled pipeline's policy,
its next fire times (DST applied), what a loop would do about fire times due now
(catch-up applied), its pause state, the recent fire records and who holds the lease —
and pausing or resuming a schedule without editing YAML.

Everything returned is plain JSON data (times as ISO 8601 text, UTC unless `local`).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from dataflow.errors import ConfigError, Conflict, PipelineNotFound
from dataflow.schedule.catchup import due_fires
from dataflow.schedule.clock import iso_utc as _iso
from dataflow.schedule.describe import describe_schedule
from dataflow.schedule.policy import SchedulePolicy
from dataflow.schedule.roster import effective_policy
from dataflow.store import schedules as store

if TYPE_CHECKING:
    from dataflow.project import Project

RECENT = 20                 # fire records listed
FIRE_FIELDS = ("pipeline", "logical_time", "decided", "outcome", "reason", "run_id",
               "submitted", "earlier_dropped")


def fire_view(record: dict) -> dict:
    """A fire record as plain data."""
    return {key: _iso(record.get(key)) for key in FIRE_FIELDS if key in record}


def _catchup_now(policy: SchedulePolicy, state: dict, now: datetime) -> dict | None:
    """What a loop deciding now would do with the fire times due since the last one."""
    if not state.get("watched_since"):
        return None
    decision = due_fires(policy, state.get("last_fired"), now, started_at=state["watched_since"])
    if not decision.fire and not decision.dropped_count:
        return None
    return {"fire": [_iso(t) for t in decision.fire], "dropped": decision.dropped_count,
            "reason": decision.reason}


def _row(pipeline, override: dict, state: dict, now: datetime, horizon: timedelta) -> dict | None:
    declared, problems = SchedulePolicy.from_mapping(pipeline.name, pipeline.schedule_keys())
    if problems:
        return {"pipeline": pipeline.name, "schedule": pipeline.schedule,
                "problems": [str(problem) for problem in problems]}
    if declared is None:
        return None
    policy = effective_policy(declared, override.get("paused"))
    row = describe_schedule(policy, now, horizon)
    if not pipeline.enabled:
        row.update(next_fires=[], truncated=False)
    row.update(enabled=pipeline.enabled, paused_in_config=declared.paused,
               paused_by=override.get("paused_by"), paused_since=_iso(override.get("since")),
               **{key: _iso(state.get(key)) for key in (
                   "watched_since", "last_fired", "last_outcome", "last_reason", "last_run_id")},
               due_now=_catchup_now(policy, state, now) if pipeline.enabled else None)
    return row


def _scheduler(lease: dict | None, now: datetime, loops: list[dict]) -> dict:
    expires = lease.get("expires") if lease else None
    alive = expires is not None and expires > now
    holder = lease.get("holder") if alive and lease else None
    loop = next((doc for doc in loops if doc["_id"] == holder), {})
    return {"active": alive, "holder": holder, "lease_expires": _iso(expires),
            "host": loop.get("host"), "pid": loop.get("pid"),
            "started": _iso(loop.get("started")), "last_tick": _iso(loop.get("last_tick"))}


def schedule_overview(project: Project, now: datetime, horizon: timedelta,
                      recent: int = RECENT, pipeline: str | None = None) -> dict:
    """Every scheduled pipeline (or one), the recent fire records and the lease."""
    pipelines = project.pipelines
    if pipeline is not None and pipeline not in pipelines:
        raise PipelineNotFound(pipeline, list(pipelines))
    db = project.db
    overrides, states = store.pause_overrides(db), store.pipeline_states(db)
    rows = [_row(p, overrides.get(name, {}), states.get(name, {}), now, horizon)
            for name, p in sorted(pipelines.items()) if pipeline in (None, name)]
    return {"now": _iso(now), "horizon_seconds": int(horizon.total_seconds()),
            "scheduler": _scheduler(store.lease(db), now, store.recent_loops(db)),
            "pipelines": [row for row in rows if row is not None],
            "recent_fires": [fire_view(r) for r in store.recent_fires(db, now, pipeline, recent)]}


def _declared(project: Project, name: str, action: str) -> SchedulePolicy:
    pipelines = project.pipelines
    if name not in pipelines:
        raise PipelineNotFound(name, list(pipelines))
    declared, problems = SchedulePolicy.from_mapping(name, pipelines[name].schedule_keys())
    if problems:
        raise ConfigError(problems)
    if declared is None:
        raise Conflict(f"pipeline {name!r} has no schedule, so there is nothing to {action}; "
                       "give it a `schedule:` (5-field cron) first")
    return declared


def set_paused(project: Project, name: str, paused: bool, by: str,
               now: datetime | None = None) -> dict:
    """Pause or resume a pipeline's schedule (stored; it wins over `paused:` in its
    config). Resuming a pipeline whose config does not pause it removes the override, so
    a later `paused: true` in the config applies again. Returns the pause state."""
    declared = _declared(project, name, "pause" if paused else "resume")
    now = now or datetime.now(timezone.utc)
    override = paused if (paused or declared.paused) else None
    store.set_pause(project.db, name, override, by, now)
    return {"pipeline": name, "paused": paused, "paused_by": by if override is not None else None,
            "since": _iso(now), "override": override is not None,
            "paused_in_config": declared.paused}
