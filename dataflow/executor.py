"""Runs one plugin task where Dask puts it: the function at every node of a run's graph.

It never raises: every result, failure or skip becomes an Outcome, and the
start and end are reported as events (without the output, which stays on the worker).
"""
from __future__ import annotations

import time
import traceback as tb

from distributed import get_worker
from jsonschema import ValidationError, validate

from dataflow.cancellation import is_cancelled
from dataflow.context import Context
from dataflow.events import emit
from dataflow.outcome import CANCELLED, COMPLETED, FAILED, SKIPPED, Outcome
from dataflow.plugin_loader import import_plugin
from dataflow.plugin_log import FatalError


def _worker_address() -> str | None:
    try:
        return get_worker().address
    except ValueError:
        return None


def _blocking_upstream(upstream) -> Outcome | None:
    for outcome in upstream:
        if outcome.stops_pipeline:
            return outcome
    return None


def _event(env, task, kind: str, **fields) -> dict:
    return {"kind": kind, "run_id": env.run_id, "task_id": task.task_id,
            "hook": task.hook, "plugin": task.plugin, **fields}


def _call_plugin(env, task, upstream) -> Outcome:
    inputs = {outcome.plugin: outcome.output for outcome in upstream if outcome.ok}
    module = import_plugin(task.ref)
    output = module.run(Context(env, task.hook, task.plugin, inputs), dict(task.config))
    if task.output_schema is not None:
        try:
            validate(output, task.output_schema)
        except ValidationError as error:
            raise ValueError(f"output of plugin {task.plugin!r} does not match its "
                             f"OUTPUT_SCHEMA: {error.message}") from None
    return Outcome(task.plugin, task.hook, COMPLETED, output=output)


def _failure(task, error: BaseException) -> Outcome:
    fatal = isinstance(error, FatalError)
    status = CANCELLED if isinstance(error, _Cancelled) else FAILED
    return Outcome(task.plugin, task.hook, status, error=f"{type(error).__name__}: {error}",
                   traceback=tb.format_exc(), stops_pipeline=(task.fail_hard or fatal)
                   and status == FAILED)


class _Cancelled(Exception):
    """Raised inside a task whose run was cancelled (hard stop)."""


def _not_run(env, task, upstream) -> Outcome | None:
    if is_cancelled(env.run_id, task.plugin):
        return Outcome(task.plugin, task.hook, CANCELLED, error="cancelled before it started")
    blocker = _blocking_upstream(upstream)
    if blocker is not None:
        reason = f"skipped: {blocker.plugin} ({blocker.hook}) stopped the pipeline"
        return Outcome(task.plugin, task.hook, SKIPPED, error=reason, stops_pipeline=True)
    return None


def execute_task(env, task, *upstream: Outcome) -> Outcome:
    """Run `task` (a PlannedTask) of run `env` with the outcomes of the previous hook."""
    outcome = _not_run(env, task, upstream)
    worker = _worker_address()
    started = time.time()
    if outcome is None:
        emit(_event(env, task, "task_started", started=started, worker=worker))
        try:
            outcome = _call_plugin(env, task, upstream)
        except BaseException as error:       # a plugin's failure is data, not a crash
            outcome = _failure(task, error)
        if outcome.status != CANCELLED and is_cancelled(env.run_id, task.plugin):
            outcome.status = CANCELLED if outcome.status == FAILED else outcome.status
    outcome.started, outcome.finished, outcome.worker = started, time.time(), worker
    emit(_event(env, task, "task_finished", **outcome.meta()))
    return outcome
