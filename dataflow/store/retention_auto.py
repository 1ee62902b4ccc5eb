"""Retention applied automatically after runs: for the finished run's pipeline, on a
background thread, bounded (AUTOMATIC_BATCH runs per kind of deletion), never failing the
run — and at most once every `retention.every_minutes` per pipeline (claimed in the
store, so many short `dataflow run` processes do not each pay for a pass that finds
nothing new). A process about to exit waits for its pass (`wait_for_retention`), so a
pass is never cut short.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pymongo.errors import DuplicateKeyError

from dataflow.background import BackgroundThread
from dataflow.store.retention import policy_for, prune

if TYPE_CHECKING:
    from dataflow.project import Project

log = logging.getLogger("dataflow.retention")
AUTOMATIC_BATCH = 100        # runs per kind of deletion an automatic application handles
RECORDED_WAIT = 10.0         # seconds to wait for the finished run's records to be stored
APPLIED = "retention_applied"      # {_id: pipeline, applied: when}: the last automatic pass
_busy: dict[tuple[str, str | None], bool] = {}     # key → asked again while busy
_busy_lock = threading.Lock()
_passes: list[BackgroundThread] = []
# key → monotonic time before which this process's own claim stands: no thread, no
# store round trip after each run until then (~1 ms a run in a long-lived engine).
_claimed_until: dict[tuple[str, str | None], float] = {}


def claimed(project: Project, pipeline: str | None, every_minutes: float | None) -> bool:
    """True when no process applied the policy for `pipeline` within `every_minutes`
    (and this one now has: the claim is one atomic upsert)."""
    if not every_minutes:
        return True
    now = datetime.now(timezone.utc)
    try:
        project.db[APPLIED].find_one_and_update(
            {"_id": pipeline or "", "applied": {"$lt": now - timedelta(minutes=every_minutes)}},
            {"$set": {"applied": now}}, upsert=True)
        _claimed_until[(str(project.directory), pipeline)] = (time.monotonic()
                                                              + every_minutes * 60)
        return True
    except DuplicateKeyError:       # applied recently: its document did not match
        return False


def apply_retention_later(project: Project, pipeline: str | None) -> BackgroundThread | None:
    """After a run of `pipeline`: apply its retention policy on a background thread,
    bounded (AUTOMATIC_BATCH runs per kind), one at a time per project and pipeline.
    Never raises: a problem is logged, the run is not affected."""
    try:
        key = (str(project.directory), pipeline)
        if time.monotonic() < _claimed_until.get(key, 0.0):
            return None             # this process applied it within every_minutes
        with _busy_lock:
            if key in _busy:            # the thread at work goes round once more
                _busy[key] = True
                return None
            _busy[key] = False
        thread = BackgroundThread("dataflow-retention",
                                  lambda stopping: _apply(project, pipeline, key)).start()
        _passes.append(thread)
        return thread
    except Exception:
        log.exception("retention was not applied after a run of %s", pipeline)
        return None


def _apply(project: Project, pipeline: str | None, key: tuple[str, str | None]) -> None:
    again = True
    try:
        policy = policy_for(project, pipeline)
        again = policy.automatic and claimed(project, pipeline, policy.every_minutes)
        while again:
            project.recorder.flush(RECORDED_WAIT)     # the run's own records first
            report = prune(project, pipeline=pipeline, limit=AUTOMATIC_BATCH)
            if report.runs_deleted or report.runs_checkpoints_pruned or report.log_files:
                log.info("retention after a run of %s: %s", pipeline, report.as_dict())
            with _busy_lock:
                again = _busy.pop(key)
                if again:
                    _busy[key] = False
    finally:
        with _busy_lock:    # done, skipped, or failed: the next run's asks afresh
            _busy.pop(key, None)


def wait_for_retention(timeout: float) -> None:
    """Let the passes this process started finish (at most `timeout` seconds in all; a
    pass still going then goes on, to be cut short by the process's exit)."""
    deadline = time.monotonic() + timeout
    while _passes:
        # stop() sets the pass's stop event, which prune does not watch: a wait
        _passes.pop().stop(max(0.0, deadline - time.monotonic()))
