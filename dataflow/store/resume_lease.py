"""The resume lease (`resume_leases`): one resume of a run at a time.

A resume takes the lease of the run it resumes (document `_id` = that run's id) before it
starts anything, renews it while the resumed run goes on, and gives it up at the end. A
lease whose holder stopped renewing (killed) expires after `ttl` seconds, so a crashed
resume never blocks the run for good. The run that resumed it is written on the old run
(`resumed_by`) at once, not through the Recorder, so the next resume sees it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from dataflow.errors import NotResumable

if TYPE_CHECKING:
    from pymongo.database import Database

LEASES = "resume_leases"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def take_resume_lease(db: Database[Any], run_id: str, holder: dict, ttl: float) -> None:
    """Take the lease on resuming `run_id` for `holder` ({"token", "host", "pid"}), or
    raise NotResumable naming who holds it."""
    leases, now = db[LEASES], _now()
    leases.delete_one({"_id": run_id, "expires": {"$lt": now}})       # its holder died
    try:
        leases.insert_one({"_id": run_id, **holder, "taken": now,
                           "expires": now + timedelta(seconds=ttl)})
        return
    except DuplicateKeyError:
        raise _in_progress(run_id, leases.find_one({"_id": run_id}) or {}) from None


def _in_progress(run_id: str, lease: dict) -> NotResumable:
    by = f" as run {lease['run_id']}" if lease.get("run_id") else ""
    until = _aware(lease["expires"]).isoformat(timespec="seconds") \
        if lease.get("expires") else "?"
    return NotResumable(
        f"run {run_id} is being resumed right now{by} (by process {lease.get('pid')} on "
        f"{lease.get('host')}); wait for that resume to end, or, if that process is gone, "
        f"for its lease to expire at {until}")


def refuse_if_resuming(db: Database[Any], run_id: str) -> None:
    """NotResumable while a live lease on resuming `run_id` exists."""
    lease = db[LEASES].find_one({"_id": run_id, "expires": {"$gte": _now()}})
    if lease is not None:
        raise _in_progress(run_id, lease)


def renew_resume_lease(db: Database[Any], run_id: str, token: str, ttl: float) -> bool:
    """Push the lease's expiry on; False when it is no longer this holder's."""
    done = db[LEASES].update_one({"_id": run_id, "token": token},
                                 {"$set": {"expires": _now() + timedelta(seconds=ttl)}})
    return done.matched_count == 1


def lease_started(db: Database[Any], run_id: str, token: str, new_run_id: str) -> None:
    """The resumed run exists: named on the lease and, as `resumed_by`, on the old run."""
    db[LEASES].update_one({"_id": run_id, "token": token}, {"$set": {"run_id": new_run_id}})
    db["runs"].update_one({"_id": run_id}, {"$set": {"resumed_by": new_run_id}})


def release_resume_lease(db: Database[Any], run_id: str, token: str) -> None:
    db[LEASES].delete_one({"_id": run_id, "token": token})


def resumed_by(db: Database[Any], run_id: str) -> str | None:
    """The run that resumed `run_id` (full id), as stored now."""
    run = db["runs"].find_one({"_id": run_id}, {"resumed_by": 1}) or {}
    return run.get("resumed_by")
