"""Runs one plugin task where Dask puts it: the function at every node of a run's graph.

It never raises: every result, failure, skip or cancel becomes an Outcome, and the
start and end are reported as events (without the output, which stays on the
worker). A completed output is checkpointed before success is reported; a task
being resumed restores its checkpoint instead of running; a cached plugin may
reuse an earlier output.
"""
from __future__ import annotations

import time
from typing import Any

from distributed import get_worker

from dataflow.worker.attempts import run_with_retries
from dataflow.worker.cache import cache_key, cached_output, remember
from dataflow.worker.cancel_flags import (CancelFlag, cancel_reason, hard_stop, request_cancel,
                                          running_here, stops_pipeline)
from dataflow.worker.deaths import unless_died_too_often
from dataflow.worker.undo import undo_completed, with_undo
from dataflow.worker.checkpoints import existing_checkpoint, load_checkpoint, save_checkpoint
from dataflow.worker.plugin_log import log_record
from dataflow.worker.streaming import stream_output, streamed_task
from dataflow.errors import CheckpointUnreadable
from dataflow.events import emit
from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.outputs import summarize
from dataflow.statuses import TaskStatus

# Called on every worker by the orchestrator (`client.run`) to cancel or stop plugins.
WORKER_CALLS = (hard_stop, request_cancel, running_here)
__all__ = ["execute_task", "CancelFlag", "hard_stop", "request_cancel", "running_here",
           "undo_completed"]


def _worker_address() -> str | None:
    try:
        return get_worker().address
    except ValueError:
        return None


def _event(env: RunEnv, task: PlannedTask, kind: str, **fields: Any) -> dict:
    return {"kind": kind, "run_id": env.run_id, "task_id": task.task_id,
            "hook": task.hook, "plugin": task.plugin, **fields}


def _not_run(env: RunEnv, task: PlannedTask, upstream: tuple[Outcome, ...]) -> Outcome | None:
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None:
        return Outcome(task.plugin, task.hook, reason, error=f"{reason} before it started",
                       stops_pipeline=stops_pipeline(reason, task.fail_hard))
    for outcome in upstream:
        if outcome.stops_pipeline:
            # name the plugin that stopped it, not the skipped task in between
            origin = outcome.extra.get("stopped_by") or f"{outcome.plugin} ({outcome.hook})"
            return Outcome(task.plugin, task.hook, TaskStatus.SKIPPED, stops_pipeline=True,
                           error=f"skipped: {origin} stopped the pipeline",
                           extra={"stopped_by": origin})
    if task.mode == "skip":
        return Outcome(task.plugin, task.hook, TaskStatus.SKIPPED, error="not re-run (resume --failed-only)")
    return None


def _restored(env: RunEnv, task: PlannedTask) -> Outcome:
    """A task completed in the run being resumed: its checkpoint, not a new run."""
    if task.restore is None:       # marked success by an operator: no output to pass on
        return Outcome(task.plugin, task.hook, TaskStatus.COMPLETED, extra={"reused": "marked_success",
                                                                  "no_output": True})
    output = load_checkpoint(env.store, task.restore, env.project_dir)
    return Outcome(task.plugin, task.hook, TaskStatus.COMPLETED, output=output,
                   extra={"reused": "checkpoint", "checkpoint": task.restore})


def _recomputed(env: RunEnv, task: PlannedTask) -> Outcome | None:
    """The output this run already checkpointed for the task (its worker died since)."""
    ref = existing_checkpoint(env, task.task_id)
    if ref is None:
        return None
    try:
        output = load_checkpoint(env.store, ref, env.project_dir)
    except FileNotFoundError:
        return None
    except CheckpointUnreadable as error:
        _warn_rerun(env, task, error)
        return None
    return Outcome(task.plugin, task.hook, TaskStatus.COMPLETED, output=output,
                   extra={"reused": "checkpoint", "checkpoint": ref})


def _computed(env: RunEnv, task: PlannedTask, upstream: tuple[Outcome, ...],
              chain: tuple[PlannedTask, ...] = ()) -> Outcome:
    earlier = _recomputed(env, task)
    if earlier is not None:
        return earlier
    inputs = {o.plugin: o.output for o in upstream if o.ok and not o.extra.get("no_output")}
    key = cache_key(task, upstream) if task.cache_ttl and env.use_cache else None
    if key is not None:
        hit, output = cached_output(env, key)
        if hit:
            return Outcome(task.plugin, task.hook, TaskStatus.COMPLETED, output=output,
                           extra={"reused": "cache", "cache_key": key})
    outcome = streamed_task(env, task, upstream, inputs, chain)     # worker/streaming.py
    if outcome is None:
        emit(_event(env, task, "task_started", started=time.time(), worker=_worker_address()))
        outcome = with_undo(env, task, inputs, lambda: unless_died_too_often(   # worker/undo.py
            env, task, lambda: run_with_retries(env, task, inputs)))
        outcome = stream_output(env, task, outcome, inputs, chain)
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None and outcome.status in (TaskStatus.FAILED, TaskStatus.COMPLETED):
        # it stopped because it was asked to: whatever it returned is partial
        outcome.status, outcome.stops_pipeline = reason, stops_pipeline(reason, task.fail_hard)
        outcome.error = outcome.error or f"{reason}: the plugin stopped when asked"
    if outcome.ok:
        outcome.extra["checkpoint"] = save_checkpoint(env, task.task_id, outcome.output)
        if key is not None and task.cache_ttl:
            remember(env, key, task.plugin, outcome.extra["checkpoint"], task.cache_ttl)
            outcome.extra["cache_key"] = key
    return outcome


def _warn_rerun(env: RunEnv, task: PlannedTask, error: CheckpointUnreadable) -> None:
    emit(log_record(env, task.hook, task.plugin, "WARNING",
                    f"{error}; the task runs again (delete the file to silence this)", {}))


def _outcome(env: RunEnv, task: PlannedTask, upstream: tuple[Outcome, ...],
             chain: tuple[PlannedTask, ...] = ()) -> Outcome:
    skipped = _not_run(env, task, upstream)
    if skipped is not None:
        skipped.extra["not_started"] = True
        return skipped
    try:
        if task.mode == "restore":
            try:
                return _restored(env, task)
            except FileNotFoundError:      # checkpoint cleaned up: run the task again
                pass
            except CheckpointUnreadable as error:      # corrupt: as if missing, said so
                _warn_rerun(env, task, error)
        return _computed(env, task, upstream, chain)
    except Exception as error:       # checkpoint or cache trouble: the task fails, visibly
        return Outcome(task.plugin, task.hook, TaskStatus.FAILED, error=f"{type(error).__name__}: {error}",
                       stops_pipeline=task.fail_hard)


def execute_task(env: RunEnv, task: PlannedTask, *upstream: Outcome,
                 stream_chain: tuple[PlannedTask, ...] = ()) -> Outcome:
    """Run `task` (a PlannedTask) of run `env` with the outcomes of the previous hook
    (`stream_chain`: the streamed tasks it drives, run/stream_chains.py)."""
    started = time.time()
    outcome = _outcome(env, task, upstream, stream_chain)
    if not outcome.extra.pop("not_started", False):   # skipped tasks have no start time
        outcome.started = outcome.started or started
    outcome.finished, outcome.worker = time.time(), _worker_address()
    if outcome.ok and not outcome.extra.get("no_output"):
        outcome.extra["output_summary"] = summarize(outcome.output)
    emit(_event(env, task, "task_finished", **outcome.meta()))
    return outcome
