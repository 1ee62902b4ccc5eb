"""Submitted → first task started, per run a scheduler loop triggered: the lag its
metrics report. Thread-safe: runs are triggered on the loop's thread while their events
arrive on the engine's.

A burst's first runs may start before the call that submits the whole burst returns, so
a task_started of a run not (yet) known is kept until the run is known or has ended.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Container


class StartLag:
    def __init__(self) -> None:
        self._awaiting: dict[str, tuple[str, float]] = {}     # run: (pipeline, submitted)
        self._early: dict[str, float] = {}                     # run: first task's start
        self._lock = threading.Lock()

    def submitted(self, run_id: str, pipeline: str, at: float | None = None) -> float | None:
        """The run was submitted `at` (unix time; None: now): its lag if its first task
        already started (0 if before `at`), else None (the lag comes with `started`)."""
        at = time.time() if at is None else at
        with self._lock:
            early = self._early.pop(run_id, None)
            if early is not None:
                return max(0.0, early - at)
            self._awaiting[run_id] = (pipeline, at)
            return None

    def started(self, run_id: str, when: float) -> tuple[str, float] | None:
        """A task of `run_id` started at `when`: (pipeline, lag) the first time for a run
        `submitted` here, else None."""
        with self._lock:
            known = self._awaiting.pop(run_id, None)
            if known is None:           # not ours, or ours with its trigger not returned
                self._early.setdefault(run_id, when)
                return None
        pipeline, submitted = known
        return pipeline, max(0.0, when - submitted)

    def keep_only(self, active: Container[str]) -> None:
        """Forget the runs that are no longer active."""
        with self._lock:
            for waiting in (self._awaiting, self._early):
                for run_id in [r for r in waiting if r not in active]:
                    del waiting[run_id]
