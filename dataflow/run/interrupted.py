"""Runs whose orchestrating process died are marked `interrupted`, never left `running`.

On this host a run is alive while its orchestrator's process (pid and start time)
is; elsewhere while its heartbeat is fresh. Checked at every start of the store.
"""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import psutil

from dataflow.store.history import active_runs, mark_interrupted

if TYPE_CHECKING:
    from pymongo.database import Database

STALE_AFTER = timedelta(seconds=60)


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


def recover_interrupted(db: Database[Any]) -> list[str]:
    """Mark every dead `running` run interrupted; returns their ids."""
    host, now = socket.gethostname(), datetime.now(timezone.utc)
    found = []
    for run in active_runs(db):
        if not _alive(run, host, now):
            reason = (f"the orchestrating process (pid {run.get('pid')} on {run.get('host')}) "
                      "ended before the run finished; resume it with `dataflow resume`")
            mark_interrupted(db, run["_id"], reason, now)
            found.append(run["_id"])
    return found
