"""Worker deaths: a plugin whose worker died under it (`os._exit`, a segfault, the OOM
killer) runs again at most `worker_death_retries` times (retry policy; default 1).

Dask hands the task of a dead worker to another worker (up to its
`distributed.scheduler.allowed-failures`). Each start of the plugin leaves a mark — a
line in a file next to the run's checkpoints, or a store record when checkpoints go to
GridFS (workers elsewhere) — that its normal end removes, so a start finding marks knows
how many attempts died with their worker. The start after the last allowed retry runs no
plugin: it ends the task `failed` ("worker died") as an Outcome, so downstream tasks follow
the FAIL_HARD rules. Every attempt is recorded on the task.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from pymongo import ReturnDocument

from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.statuses import TaskStatus
from dataflow.worker.checkpoints import checkpoint_folder, run_folder
from dataflow.worker.retry import RetryPolicy

WORKER_DIED = "worker died"
STARTS = "task_starts"       # system-database collection (checkpoints in GridFS)


def _marks(env: RunEnv, task_id: str) -> Path:
    return checkpoint_folder(env.project_dir) / env.run_id / f"{task_id}.starts"


def note_start(env: RunEnv, task_id: str) -> list[float]:
    """Mark this start; returns when the earlier starts that never ended began."""
    now = time.time()
    if env.checkpoints == "gridfs":
        before = env.store.system_db()[STARTS].find_one_and_update(
            {"_id": f"{env.run_id}:{task_id}"}, {"$push": {"starts": now}}, upsert=True,
            return_document=ReturnDocument.BEFORE)
        return [float(t) for t in (before or {}).get("starts", [])]
    path = _marks(env, task_id)
    run_folder(path.parent)
    # one open: read the earlier starts, append this one (O_APPEND writes at the end)
    marks = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        earlier = os.read(marks, 1 << 16).split()
        os.write(marks, f"{now}\n".encode())
    finally:
        os.close(marks)
    return [float(t) for t in earlier]


def note_end(env: RunEnv, task_id: str) -> None:
    if env.checkpoints == "gridfs":
        env.store.system_db()[STARTS].delete_one({"_id": f"{env.run_id}:{task_id}"})
    else:
        _marks(env, task_id).unlink(missing_ok=True)


def _died(starts: list[float]) -> list[dict]:
    return [{"attempt": number, "started": started, "finished": None, "error": WORKER_DIED}
            for number, started in enumerate(starts, start=1)]


def _gave_up(task: PlannedTask, deaths: list[float], retries: int) -> Outcome:
    return Outcome(task.plugin, task.hook, TaskStatus.FAILED, stops_pipeline=task.fail_hard,
                   error=f"{WORKER_DIED}: the worker running it died {len(deaths)} time(s) "
                         f"(the plugin killed its process or crashed it); retried {retries} "
                         "time(s) (retry.worker_death_retries)",
                   started=deaths[0], extra={"attempts": _died(deaths)})


def unless_died_too_often(env: RunEnv, task: PlannedTask, run: Callable[[], Outcome]) -> Outcome:
    """`run()` the plugin, unless its worker died under it more often than allowed."""
    retries = RetryPolicy.from_layers(env.retry, task.retry).worker_death_retries
    started = time.time()
    deaths = note_start(env, task.task_id)
    if len(deaths) > retries:
        note_end(env, task.task_id)
        return _gave_up(task, deaths, retries)
    outcome = run()
    note_end(env, task.task_id)
    if deaths:     # it ran again after a worker death: both attempts on its record
        this_run = outcome.extra.get("attempts") or [
            {"attempt": 1, "started": started, "finished": time.time(), "error": outcome.error}]
        outcome.extra["attempts"] = _died(deaths) + [
            {**attempt, "attempt": len(deaths) + attempt["attempt"]} for attempt in this_run]
    return outcome
