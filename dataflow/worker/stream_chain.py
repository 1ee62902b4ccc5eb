"""One streaming chain, driven chunk by chunk by the task whose output is the stream.

The driver starts each chunk on its way through every member of the chain (one Dask job
per chunk, on the worker holding it: worker/stream_source.py and stream_step.py), a few
chunks ahead, and takes back their row counts in chunk order: each member's tally,
progress events, and every CHECKPOINT_ROWS rows the chain's position saved
(store/stream_progress.py). A resumed run starts after the last one, reusing the parts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataflow.errors import PluginFailed
from dataflow.events import emit
from dataflow.model import PlannedTask, RunEnv
from dataflow.plugins.loader import import_plugin
from dataflow.store.stream_progress import load_stream_checkpoint, save_stream_checkpoint
from dataflow.worker.cancel_flags import cancel_reason
from dataflow.worker.plugin_log import PluginLogger
from dataflow.worker.stream_context import RowTally
from dataflow.worker.stream_parts import drop_parts_from, reuse_parts, stream_folder
from dataflow.worker.stream_source import chunk_count, processed
from dataflow.worker.stream_step import Step

CHECKPOINT_ROWS = 500_000           # default rows between chunk checkpoints


@dataclass
class Member:
    """One streamed task of a chain, as its driver follows it."""

    step: Step
    tally: RowTally
    folder: Path
    checkpoint_rows: int
    started: float | None = None
    error: str | None = None

    @property
    def task(self) -> PlannedTask:
        return self.step.task


def member(env: RunEnv, task: PlannedTask, inputs: dict, own: bool = False) -> Member:
    """The chain member of `task`; `own`: the driver's own chunks, kept as they come."""
    module = import_plugin(task.ref)
    folder = stream_folder(env.project_dir, env.run_id, task.task_id)
    return Member(Step(task, str(folder), own, tuple(inputs)), RowTally(), folder,
                  int(getattr(module, "CHECKPOINT_ROWS", CHECKPOINT_ROWS)))


def _event(env: RunEnv, task: PlannedTask, kind: str, **fields: Any) -> dict:
    return {"kind": kind, "run_id": env.run_id, "task_id": task.task_id,
            "hook": task.hook, "plugin": task.plugin, **fields}


def _report(env: RunEnv, m: Member) -> None:
    tally = m.tally
    emit(_event(env, m.task, "progress", done=tally.chunks_done,
                total=tally.chunks_total or tally.chunks_done, **tally.progress()))


def _state(members: list[Member], next_chunk: int, finished: bool) -> dict:
    return {"next_chunk": next_chunk, "finished": finished,
            "tasks": {m.task.task_id: {**m.tally.progress(), "folder": str(m.folder)}
                      for m in members}}


def _resume(env: RunEnv, driver: PlannedTask, members: list[Member]) -> int:
    """The chunk to start from: after the resumed run's last checkpoint, its parts reused."""
    ref = driver.restore or {}
    if ref.get("kind") != "stream":
        return 0
    saved = load_stream_checkpoint(env.store.system_db(), ref["run_id"], driver.task_id)
    if not saved:
        return 0
    start = int(saved.get("next_chunk", 0))
    for m in members:
        old = saved.get("tasks", {}).get(m.task.task_id)
        if old is None:          # a plugin that was not in the chain then: from the start
            return 0
        m.tally.restore(old)
        reuse_parts(stream_folder(env.project_dir, ref["run_id"], m.task.task_id),
                    m.folder, start)
    PluginLogger(env, driver.hook, driver.plugin).record(
        "INFO", f"stream resumed at chunk {start} from run {ref['run_id']}",
        {"chunk": start, "resumed_from": ref["run_id"]})
    save_stream_checkpoint(env.store.system_db(), env.run_id, driver.task_id,
                           _state(members, start, False))
    return start


def _counted(env: RunEnv, members: list[Member], index: int, counts: list) -> int:
    """Chunk `index`'s counts into each member's tally; the rows of the chunk."""
    for m, count in zip(members, counts):
        if m.started is None:
            m.started = time.time()
            if not m.step.own:
                emit(_event(env, m.task, "task_started", started=m.started))
        if count is not None:
            m.tally.chunk = index
            m.tally.done += count["rows"] if not count["error"] else 0
            m.tally.failed(count["failed"])
            m.tally.skipped(count["skipped"])
            if count["error"]:
                m.error = count["error"]
                raise PluginFailed(f"{m.task.task_id} {m.error}")
        m.tally.chunks_done = index + 1
        _report(env, m)
    return counts[0]["rows"] if counts and counts[0] else 0


def _check_cancel(env: RunEnv, driver: PlannedTask, members: list[Member]) -> None:
    for task in [driver, *(m.task for m in members)]:
        reason = cancel_reason(env.run_id, task.plugin)
        if reason is not None:
            raise PluginFailed(f"stream {reason} at a chunk boundary ({task.task_id})")


def drive(env: RunEnv, driver: PlannedTask, source: Any, members: list[Member]) -> None:
    """Run the whole stream through the chain; raises PluginFailed when it stops early."""
    start = _resume(env, driver, members)
    total = chunk_count(source)
    for m in members:
        m.tally.chunks_total = total
        drop_parts_from(m.folder, start)
    every = min(m.checkpoint_rows for m in members)
    since, following = 0, start
    db = env.store.system_db()
    steps = tuple(m.step for m in members)
    for index, counts in processed(env, steps, source, start):
        _check_cancel(env, driver, members)
        since, following = since + _counted(env, members, index, counts), index + 1
        if since >= every:
            save_stream_checkpoint(db, env.run_id, driver.task_id,
                                   _state(members, following, False))
            since = 0
    for m in members:           # the end: every total is known now
        m.tally.rows_total, m.tally.chunks_total = m.tally.done, following
        _report(env, m)
    save_stream_checkpoint(db, env.run_id, driver.task_id, _state(members, following, True))
