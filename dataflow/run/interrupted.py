"""Runs whose orchestrating process died are marked `interrupted`, never left `running`.

On this host a run is alive while its orchestrator's process (pid and start time)
is; elsewhere while its heartbeat is fresh. Checked at every start of the store.
"""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import psutil

from dataflow.run.state import RUN_INTERRUPTED

STALE_AFTER = timedelta(seconds=60)
UNFINISHED_TASKS = ("pending", "running")


def _process_alive(pid, started) -> bool:
    try:
        process = psutil.Process(pid)
        return started is None or abs(process.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError, ValueError):
        return False


def _alive(run: dict, host: str, now: datetime) -> bool:
    if run.get("host") == host:
        return _process_alive(run.get("pid"), run.get("pid_started"))
    heartbeat = run.get("heartbeat")
    return heartbeat is not None and now - heartbeat < STALE_AFTER


def mark_interrupted(db, run: dict, now: datetime) -> None:
    reason = (f"the orchestrating process (pid {run.get('pid')} on {run.get('host')}) ended "
              "before the run finished; resume it with `dataflow resume`")
    db["runs"].update_one({"_id": run["_id"], "status": "running"}, {"$set": {
        "status": RUN_INTERRUPTED, "finished": now, "error": reason}})
    db["tasks"].update_many({"run_id": run["_id"], "status": {"$in": list(UNFINISHED_TASKS)}},
                            {"$set": {"status": RUN_INTERRUPTED}})


def recover_interrupted(db) -> list[str]:
    """Mark every dead `running` run interrupted; returns their ids."""
    host, now = socket.gethostname(), datetime.now(timezone.utc)
    found = []
    for run in db["runs"].find({"status": "running"},
                               {"host": 1, "pid": 1, "pid_started": 1, "heartbeat": 1}):
        if not _alive(run, host, now):
            mark_interrupted(db, run, now)
            found.append(run["_id"])
    return found
