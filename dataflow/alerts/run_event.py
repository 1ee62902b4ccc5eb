"""The event kinds alerts listen to, and the shape of the new `run_finished` event.

The engine already emits `log` and `task_finished`; `run_started` and `run_finished`
are built here, so that the engine (which emits it) and the rules (which read it) share
one definition:

    {"kind": "run_finished", "run_id": str, "pipeline": str,
     "status": a RunStatus value, "duration": seconds (float),
     "error": str | None (the run's first error),
     "started": ISO time, "finished": ISO time}
"""
from __future__ import annotations

from datetime import datetime

from dataflow.statuses import RunStatus

LOG = "log"
TASK_FINISHED = "task_finished"
RUN_STARTED = "run_started"
RUN_FINISHED = "run_finished"


def run_started_event(run_id: str, pipeline: str, trigger: str, started: datetime) -> dict:
    """The event announcing that a run was recorded and submitted."""
    return {"kind": RUN_STARTED, "run_id": run_id, "pipeline": pipeline, "trigger": trigger,
            "started": started.isoformat()}


def run_finished_event(run_id: str, pipeline: str, status: RunStatus | str,
                       started: datetime, finished: datetime, error: str | None = None) -> dict:
    """The event announcing that a run ended, with plain (msgpack/JSON-friendly) values."""
    return {"kind": RUN_FINISHED, "run_id": run_id, "pipeline": pipeline,
            "status": RunStatus(status).value,
            "duration": round((finished - started).total_seconds(), 3), "error": error,
            "started": started.isoformat(), "finished": finished.isoformat()}
