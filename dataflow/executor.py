"""Runs one plugin task where Dask puts it: the function at every node of a run's graph.

It never raises: every result, failure, skip or cancel becomes an Outcome, and the
start and end are reported as events (without the output, which stays on the worker).
"""
from __future__ import annotations

import time
import traceback as tb

from distributed import get_worker
from jsonschema import ValidationError, validate

from dataflow.cancellation import PluginStopped, cancel_reason, task_finished, task_started
from dataflow.context import Context
from dataflow.events import emit
from dataflow.outcome import COMPLETED, FAILED, SKIPPED, Outcome
from dataflow.plugin_loader import import_plugin
from dataflow.plugin_log import FatalError


def _worker_address() -> str | None:
    try:
        return get_worker().address
    except ValueError:
        return None


def _event(env, task, kind: str, **fields) -> dict:
    return {"kind": kind, "run_id": env.run_id, "task_id": task.task_id,
            "hook": task.hook, "plugin": task.plugin, **fields}


def _check_output(task, output) -> None:
    if task.output_schema is None:
        return
    try:
        validate(output, task.output_schema)
    except ValidationError as error:
        raise ValueError(f"output of plugin {task.plugin!r} does not match its "
                         f"OUTPUT_SCHEMA: {error.message}") from None


def _call_plugin(env, task, upstream) -> Outcome:
    inputs = {outcome.plugin: outcome.output for outcome in upstream if outcome.ok}
    module = import_plugin(task.ref)
    task_started(env.run_id, task.plugin, module)
    try:
        output = module.run(Context(env, task.hook, task.plugin, inputs), dict(task.config))
    finally:
        task_finished(env.run_id, task.plugin)
    _check_output(task, output)
    return Outcome(task.plugin, task.hook, COMPLETED, output=output)


def _failure(env, task, error: BaseException) -> Outcome:
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None:
        how = "stopped hard after the grace period" if isinstance(error, PluginStopped) \
            else f"{type(error).__name__}: {error}"
        return Outcome(task.plugin, task.hook, reason, error=f"{reason}: {how}")
    fatal = isinstance(error, FatalError)
    return Outcome(task.plugin, task.hook, FAILED, error=f"{type(error).__name__}: {error}",
                   traceback=tb.format_exc(), stops_pipeline=task.fail_hard or fatal)


def _not_run(env, task, upstream) -> Outcome | None:
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None:
        return Outcome(task.plugin, task.hook, reason, error=f"{reason} before it started")
    for outcome in upstream:
        if outcome.stops_pipeline:
            return Outcome(task.plugin, task.hook, SKIPPED, stops_pipeline=True,
                           error=f"skipped: {outcome.plugin} ({outcome.hook}) stopped the pipeline")
    return None


def _run_once(env, task, upstream) -> Outcome:
    emit(_event(env, task, "task_started", started=time.time(), worker=_worker_address()))
    try:
        outcome = _call_plugin(env, task, upstream)
    except BaseException as error:       # a plugin's failure is data, not a crash
        outcome = _failure(env, task, error)
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None and outcome.status in (FAILED, COMPLETED):
        # it stopped because it was asked to: the output (if any) is partial
        outcome.status, outcome.stops_pipeline = reason, False
        outcome.error = outcome.error or f"{reason}: the plugin stopped when asked"
    return outcome


def execute_task(env, task, *upstream: Outcome) -> Outcome:
    """Run `task` (a PlannedTask) of run `env` with the outcomes of the previous hook."""
    started = time.time()
    outcome = _not_run(env, task, upstream) or _run_once(env, task, upstream)
    outcome.started, outcome.finished, outcome.worker = started, time.time(), _worker_address()
    emit(_event(env, task, "task_finished", **outcome.meta()))
    return outcome
