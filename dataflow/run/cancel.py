"""Cancel a run or one plugin of it, from the orchestrating process.

1. every worker gets the flag (queued tasks then never start; running plugins see
   `context.cancelled()` and get their `cancel()` called where they run; their jobs
   are cancelled); 2. a whole-run cancel also cancels the futures not yet started;
   3. after the grace period a plugin still running is stopped hard (an exception
   raised in its thread), and if even that does not end it, its worker is restarted.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dataflow.run.graph import hard_stop, request_cancel, running_here
from dataflow.statuses import TaskStatus

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.run.result import RunHandle

RESTART_AFTER = 2.0      # seconds after the hard stop before the worker is restarted


class Canceller:
    def __init__(self, client_getter: Callable[[], Client], grace_seconds: float):
        self._client = client_getter
        self.grace = grace_seconds

    def cancel(self, handle: RunHandle, plugin: str | None = None,
               reason: TaskStatus = TaskStatus.CANCELLED) -> None:
        """Start cancelling; returns at once (the run ends through its futures)."""
        run_state, client = handle.state, self._client()
        if plugin is None:
            run_state.cancel_requested = True
        request_cancel(handle.run_id, plugin, reason)     # tasks run in this process too
        client.run(request_cancel, handle.run_id, plugin, reason)
        for task_id, future in handle.futures.items():
            state = run_state.tasks[task_id]
            if state["status"] == TaskStatus.PENDING and plugin in (None, state["plugin"]):
                if plugin is None:
                    future.cancel()
                # it will never start: say so now rather than when its hook comes
                run_state.handle({"kind": "task_finished", "run_id": handle.run_id,
                                "task_id": task_id, "hook": state["hook"],
                                "plugin": state["plugin"], "status": reason,
                                "error": f"{reason} before it started"})
        timer = threading.Timer(self.grace, self._escalate, (handle, plugin))
        timer.daemon = True
        timer.start()

    def _still_running(self, handle: RunHandle, plugin: str | None) -> list[str]:
        return [tid for tid, task in handle.state.tasks.items()
                if task["status"] == TaskStatus.RUNNING and plugin in (None, task["plugin"])]

    def _escalate(self, handle: RunHandle, plugin: str | None) -> None:
        if not self._still_running(handle, plugin):
            return
        client = self._client()
        hard_stop(handle.run_id, plugin)
        client.run(hard_stop, handle.run_id, plugin)
        deadline = time.monotonic() + RESTART_AFTER
        while time.monotonic() < deadline and self._still_running(handle, plugin):
            time.sleep(0.05)
        stuck = self._still_running(handle, plugin)
        if stuck:
            self._restart_workers(handle, stuck)

    def _restart_workers(self, handle: RunHandle, task_ids: list[str]) -> None:
        """Last resort for a plugin stuck in C code: its worker process is replaced."""
        client = self._client()
        addresses: set[str] = set()
        for task_id in task_ids:      # only the workers running the stuck plugins
            plugin = handle.state.tasks[task_id]["plugin"]
            holders = client.run(running_here, handle.run_id, plugin)
            addresses.update(address for address, count in holders.items() if count)
        client.cancel([handle.futures[task_id] for task_id in task_ids], force=True)
        if addresses:
            client.restart_workers(sorted(addresses), raise_for_error=False)
