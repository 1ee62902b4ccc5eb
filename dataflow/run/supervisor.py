"""Supervises the active runs of an engine: cancel requests from other processes,
deadlines, heartbeats.

`dataflow cancel` (another process) writes a request to the store; the process
that orchestrates the run sees it here within a poll interval and acts on it.
A plugin with `DEADLINE` (seconds) still running past it is stopped as timed_out.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from pymongo.errors import PyMongoError

from dataflow.background import periodic
from dataflow.statuses import TaskStatus
from dataflow.store.control import take_cancel_requests

if TYPE_CHECKING:
    from dataflow.run.engine import Engine
    from dataflow.run.result import RunHandle

POLL = 0.1
HEARTBEAT_EVERY = 5.0     # seconds; a run with no heartbeat for a minute is interrupted
log = logging.getLogger("dataflow.run.supervisor")


class RunSupervisor:
    """One thread per engine, polling every `poll` seconds while the engine lives."""

    def __init__(self, engine: Engine, poll: float = POLL):
        self.engine, self.poll = engine, poll
        self._timed_out: set[tuple[str, str]] = set()
        self._last_beat = 0.0
        self._thread = periodic("dataflow-supervisor", poll, self._step, poll + 2).start()

    def _deadlines(self, handle: RunHandle) -> None:
        now = time.time()
        for task in handle.plan.tasks:
            state = handle.state.tasks[task.task_id]
            key = (handle.run_id, task.plugin)
            if (task.deadline and state["status"] == TaskStatus.RUNNING and key not in self._timed_out
                    and now - state.get("started", now) > task.deadline):
                self._timed_out.add(key)
                self.engine.canceller.cancel(handle, task.plugin, TaskStatus.TIMED_OUT)

    def _tick(self) -> None:
        active = dict(self.engine.active_runs)
        if not active:
            return
        for handle in active.values():
            self._deadlines(handle)
        if time.monotonic() - self._last_beat > HEARTBEAT_EVERY:
            self._last_beat = time.monotonic()
            now = datetime.now(timezone.utc)
            for run_id in active:
                self.engine.project.recorder.record("runs", run_id, {"heartbeat": now})
        for request in take_cancel_requests(self.engine.project.db, list(active)):
            requested = active.get(request["run_id"])
            if requested is not None:
                self.engine.canceller.cancel(requested, request.get("plugin"))

    def _step(self) -> None:
        try:
            self._tick()
        except PyMongoError as error:   # store hiccup: try again next poll
            log.warning("run supervisor could not read the store: %s", error)

    def stop(self) -> None:
        self._thread.stop()
