"""Following a run's futures and events: waiting for them all, and which events are stale."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from distributed import Future, wait
from distributed.client import FuturesCancelledError

from dataflow.statuses import FINAL_TASK_STATUSES

if TYPE_CHECKING:
    from dataflow.run.result import RunHandle


def wait_all(futures: list[Future], timeout: float | None) -> None:
    """Wait until every future is finished, erred or cancelled (cancelled ones don't raise)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            wait([f for f in futures if not f.done()], timeout=remaining)
            return
        except FuturesCancelledError:
            continue


def superseded(handle: RunHandle, event: dict) -> bool:
    """A "stopped before it started" end of a task already recorded as ended: the task Dask
    handed out again after its stuck worker was restarted (run/cancel.py)."""
    if event.get("kind") != "task_finished" or event.get("started") is not None:
        return False
    task = handle.state.tasks.get(event.get("task_id", ""))
    return task is not None and task["status"] in FINAL_TASK_STATUSES
