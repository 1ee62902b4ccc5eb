"""Watches the active runs of an engine: cancel requests from other processes, deadlines.

`dataflow cancel` (another process) writes a request to the store; the process
that orchestrates the run sees it here within a poll interval and acts on it.
A plugin with `DEADLINE` (seconds) still running past it is stopped as timed_out.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from pymongo.errors import PyMongoError

from dataflow.worker.cancel_flags import TIMED_OUT
from dataflow.model import RUNNING

POLL = 0.1
HEARTBEAT_EVERY = 5.0     # seconds; a run with no heartbeat for a minute is interrupted
log = logging.getLogger("dataflow.run.supervisor")


class RunWatcher:
    def __init__(self, engine, poll: float = POLL):
        self.engine, self.poll = engine, poll
        self._stop = threading.Event()
        self._timed_out: set[tuple[str, str]] = set()
        self._last_beat = 0.0
        self._thread = threading.Thread(target=self._loop, name="dataflow-watcher", daemon=True)
        self._thread.start()

    def _requests(self, run_ids: list[str]) -> list[dict]:
        requests = self.engine.project.db["cancel_requests"]
        found = list(requests.find({"run_id": {"$in": run_ids}, "handled": None}))
        for request in found:
            requests.update_one({"_id": request["_id"]}, {"$set": {"handled": time.time()}})
        return found

    def _deadlines(self, handle) -> None:
        now = time.time()
        for task in handle.plan.tasks:
            state = handle.tracker.tasks[task.task_id]
            key = (handle.run_id, task.plugin)
            if (task.deadline and state["status"] == RUNNING and key not in self._timed_out
                    and now - state.get("started", now) > task.deadline):
                self._timed_out.add(key)
                self.engine.canceller.cancel(handle, task.plugin, TIMED_OUT)

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
        for request in self._requests(list(active)):
            handle = active.get(request["run_id"])
            if handle is not None:
                self.engine.canceller.cancel(handle, request.get("plugin"))

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._tick()
            except PyMongoError as error:   # store hiccup: try again next poll
                log.warning("run watcher could not read the store: %s", error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.poll + 2)
