"""One plugin call with its retries: each attempt recorded, waits interruptible by cancel."""
from __future__ import annotations

import time
import traceback
import traceback as tb
from typing import Any

from dataflow.errors import FatalError, OutputInvalid, PluginStopped
from dataflow.worker.cancel_flags import (cancel_reason, stops_pipeline, task_finished,
                                          task_started)
from dataflow.store.write_counter import counting_writes
from dataflow.worker.capture import captured
from dataflow.worker.children import children_stopped
from dataflow.worker.context import Context
from dataflow.worker.jobs import seceded
from dataflow.worker.output_check import output_problems
from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.plugins.loader import import_plugin
from dataflow.worker.plugin_log import PluginLogger
from dataflow.statuses import TaskStatus
from dataflow.worker.retry import RetryPolicy

WAIT_SLICE = 0.1      # cancel is checked this often while waiting to retry


def _check_output(task: PlannedTask, output: Any) -> None:
    problems = output_problems(task.output_schema, output)   # worker/output_check.py
    if problems:
        raise OutputInvalid("output does not match OUTPUT_SCHEMA: " + "; ".join(problems))


def _data_writes(env: RunEnv, tally: dict[str, int]) -> dict[str, int]:
    """{collection: documents} the plugin wrote into the data database (`services["db"]`)."""
    prefix = env.store.data_database + "."
    return {key[len(prefix):]: count for key, count in tally.items()
            if key.startswith(prefix) and count and not key[len(prefix):].startswith("_dataflow")}


def _call(env: RunEnv, task: PlannedTask, inputs: dict, writes: dict[str, int]) -> Any:
    """Run the plugin once; `writes` receives what it wrote through the db service."""
    module = import_plugin(task.ref)
    context = Context(env, task.hook, task.plugin, inputs)
    task_started(env.run_id, task.plugin, module)
    try:
        with captured(context["services"]["log"]), counting_writes() as tally, \
                children_stopped(module):
            try:
                output = module.run(context, dict(task.config))
            finally:
                writes.update(_data_writes(env, tally))
    finally:
        task_finished(env.run_id, task.plugin)
        jobs = context["services"].built("jobs")
        if jobs is not None:       # the final count, sent before the task's end event
            jobs.close()
    _check_output(task, output)
    return output


def _timed_out(error: BaseException | None) -> bool:
    """An error a plugin marked as its own time limit passing (worker/command_runner.py)."""
    return getattr(error, "task_status", None) == TaskStatus.TIMED_OUT


def _failure(env: RunEnv, task: PlannedTask, error: BaseException) -> Outcome:
    reason = cancel_reason(env.run_id, task.plugin)
    if reason is not None:
        how = "stopped hard after the grace period" if isinstance(error, PluginStopped) \
            else f"{type(error).__name__}: {error}"
        return Outcome(task.plugin, task.hook, reason, error=f"{reason}: {how}",
                       stops_pipeline=stops_pipeline(reason, task.fail_hard))
    if _timed_out(error):       # its own time limit (a command's timeout): as a DEADLINE
        return Outcome(task.plugin, task.hook, TaskStatus.TIMED_OUT, error=f"timed_out: {error}",
                       stops_pipeline=stops_pipeline(TaskStatus.TIMED_OUT, task.fail_hard))
    fatal = isinstance(error, FatalError)
    return Outcome(task.plugin, task.hook, TaskStatus.FAILED, error=f"{type(error).__name__}: {error}",
                   traceback=tb.format_exc(), stops_pipeline=task.fail_hard or fatal)


def _wait_unless_cancelled(env: RunEnv, task: PlannedTask, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with seceded():           # a task waiting to retry holds no worker slot
        while time.monotonic() < deadline and not cancel_reason(env.run_id, task.plugin):
            time.sleep(min(WAIT_SLICE, max(0.0, deadline - time.monotonic())))


def _attempt(env: RunEnv, task: PlannedTask,
             inputs: dict) -> tuple[Outcome, BaseException | None]:
    started = time.time()
    writes: dict[str, int] = {}
    try:
        outcome, error = Outcome(task.plugin, task.hook, TaskStatus.COMPLETED,
                                 output=_call(env, task, inputs, writes)), None
    except BaseException as caught:       # a plugin's failure is data, not a crash
        outcome, error = _failure(env, task, caught), caught
        # the traceback's frames would keep the plugin's locals (job futures) alive
        traceback.clear_frames(caught.__traceback__)
    outcome.extra["attempt_window"] = (started, time.time())
    if writes:
        outcome.extra["writes"] = writes
    return outcome, error


def _retryable(policy: RetryPolicy, error: BaseException | None, attempts: int) -> bool:
    return (error is not None and not isinstance(error, (FatalError, OutputInvalid))
            and policy.allows(error, attempts))


def run_with_retries(env: RunEnv, task: PlannedTask, inputs: dict) -> Outcome:
    """Call the plugin until it succeeds or its retry policy gives up."""
    policy = RetryPolicy.from_layers(env.retry, task.retry)
    history: list[dict] = []
    while True:
        outcome, error = _attempt(env, task, inputs)
        started, finished = outcome.extra.pop("attempt_window")
        history.append({"attempt": len(history) + 1, "started": started,
                        "finished": finished, "error": outcome.error})
        if outcome.status != TaskStatus.FAILED or not _retryable(policy, error, len(history)):
            break
        wait = policy.wait_before(len(history))
        PluginLogger(env, task.hook, task.plugin).record(
            "WARNING", f"attempt {len(history)} failed ({outcome.error}); retrying in {wait:.2f}s",
            {"attempt": len(history), "retry_in": round(wait, 3)})
        _wait_unless_cancelled(env, task, wait)
        if cancel_reason(env.run_id, task.plugin):
            break
    if len(history) > 1 or policy.max_retries:
        outcome.extra["attempts"] = history
    if (outcome.status == TaskStatus.FAILED and not isinstance(error, FatalError)) \
            or _timed_out(error):
        # the failure is a log record too, so `dataflow logs ID --level error` shows it
        PluginLogger(env, task.hook, task.plugin).record(
            "ERROR", f"plugin {outcome.status}: {outcome.error}",
            {"attempts": len(history), "fail_hard": task.fail_hard})
    return outcome
