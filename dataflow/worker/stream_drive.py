"""Driving streams (loaded by worker/streaming.py only when a task streams: it brings
dask.dataframe, pandas and pyarrow, which no other task needs).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dataflow.errors import PluginFailed
from dataflow.events import emit
from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.statuses import TaskStatus
from dataflow.worker.stream_chain import Member, drive, member
from dataflow.worker.stream_parts import read_parts
from dataflow.worker.streaming import is_dask_frame, is_streamable

STREAMED = "streamed"       # Outcome.extra key: {task_id: what the driver did for it}


def _results(members: list[Member], stopped: str | None) -> dict:
    return {m.task.task_id: {"folder": str(m.folder), "started": m.started,
                             "error": m.error, "stopped": stopped if not m.error else None,
                             "progress": m.tally.progress()} for m in members}


def _driven(env: RunEnv, driver: PlannedTask, source: Any,
            members: list[Member]) -> tuple[dict, str | None]:
    try:
        drive(env, driver, source, members)
        return _results(members, None), None
    except PluginFailed as error:
        message = f"stream stopped: {error}"
        return _results(members, message), message


def stream_output(env: RunEnv, task: PlannedTask, outcome: Outcome, inputs: dict,
                  chain: tuple[PlannedTask, ...]) -> Outcome:
    """A completed task whose output is a stream: driven through its chain. A generator
    with no chain is stored as parts (a dask DataFrame passes on as it is: lazy)."""
    if not chain and is_dask_frame(outcome.output):
        return outcome
    members = [member(env, t, {task.plugin: outcome.output}) for t in chain] or \
        [member(env, task, inputs, own=True)]
    results, stopped = _driven(env, task, outcome.output, members)
    own = results.pop(task.task_id, None)
    output = outcome.output if is_dask_frame(outcome.output) else None
    if own is not None:
        output, outcome.extra["stream"] = read_parts(members[0].folder), own["progress"]
    outcome.output, outcome.extra[STREAMED] = output, results
    if stopped:
        outcome.status, outcome.error = TaskStatus.FAILED, stopped
        outcome.stops_pipeline = task.fail_hard
    return outcome


def _reported(task: PlannedTask, upstream: tuple[Outcome, ...]) -> Outcome | None:
    """What the driver upstream did for this task, as its outcome."""
    for outcome in upstream:
        done = outcome.extra.get(STREAMED, {})
        if task.task_id not in done:
            continue
        result, rest = done[task.task_id], {k: v for k, v in done.items() if k != task.task_id}
        problem = result["error"] or result["stopped"]
        status = TaskStatus.FAILED if result["error"] else \
            TaskStatus.SKIPPED if problem else TaskStatus.COMPLETED
        mine = Outcome(task.plugin, task.hook, status, error=problem, started=result["started"],
                       stops_pipeline=bool(problem) and task.fail_hard,
                       extra={STREAMED: rest, "stream": result["progress"]})
        if not problem:
            mine.output = read_parts(Path(result["folder"]))
        return mine
    return None


def _stream_input(inputs: dict) -> Any:
    for value in inputs.values():
        if is_streamable(value) or type(value).__name__ == "DataFrame":
            return value if is_streamable(value) else iter([value])
    return None


def streamed_task(env: RunEnv, task: PlannedTask, upstream: tuple[Outcome, ...], inputs: dict,
                  chain: tuple[PlannedTask, ...]) -> Outcome:
    """The outcome of a STREAM task: reported by its chain's driver, or driven here from
    the stream among its inputs."""
    reported = _reported(task, upstream)
    if reported is not None:
        return reported
    source = _stream_input(inputs)
    if source is None:
        return Outcome(task.plugin, task.hook, TaskStatus.FAILED, stops_pipeline=task.fail_hard,
                       error=f"plugin {task.plugin} declares STREAM = True but none of its "
                             f"inputs ({', '.join(inputs) or 'none'}) is a dask DataFrame, a "
                             "DataFrame or a generator of DataFrames; make the plugin of the "
                             "hook before it return one")
    emit({"kind": "task_started", "run_id": env.run_id, "task_id": task.task_id,
          "hook": task.hook, "plugin": task.plugin, "started": time.time()})
    members = [member(env, t, inputs) for t in (task, *chain)]
    results, stopped = _driven(env, task, source, members)
    outcome = _reported(task, (Outcome(task.plugin, task.hook, TaskStatus.COMPLETED,
                                       extra={STREAMED: results}),))
    assert outcome is not None
    if stopped and outcome.status == TaskStatus.SKIPPED:     # it drove the chain that stopped
        outcome.status = TaskStatus.FAILED
    return outcome
