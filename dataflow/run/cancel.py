"""Cancel a run or one plugin of it, from the orchestrating process.

1. every worker gets the flag (queued tasks then never start; running plugins see
   `context.cancelled()` and get their `cancel()` called where they run; their jobs
   are cancelled); 2. a whole-run cancel also cancels the futures not yet started;
   3. after the grace period a plugin still running is stopped hard (an exception
   raised in its thread), and if even that does not end it, its worker is restarted.
   The task is then recorded with its reason (cancelled / timed_out); the restarted
   worker gets the flag too (a worker plugin), so the task Dask hands out again ends at
   once with that reason, and its downstream follows the FAIL_HARD rules.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dataflow.run.graph import CancelFlag, hard_stop, request_cancel, running_here
from dataflow.statuses import TaskStatus

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.run.result import RunHandle

RESTART_AFTER = 2.0      # seconds after the hard stop before the worker is restarted
log = logging.getLogger("dataflow.run.cancel")


class Canceller:
    def __init__(self, client_getter: Callable[[], Client], grace_seconds: float):
        self._client = client_getter
        self.grace = grace_seconds
        self._flag_plugins: dict[str, list[str]] = {}     # run id: worker plugins registered

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
        timer = threading.Timer(self.grace, self._escalate, (handle, plugin, reason))
        timer.daemon = True
        timer.start()

    def _still_running(self, handle: RunHandle, plugin: str | None) -> list[str]:
        return [tid for tid, task in handle.state.tasks.items()
                if task["status"] == TaskStatus.RUNNING and plugin in (None, task["plugin"])]

    def _escalate(self, handle: RunHandle, plugin: str | None, reason: TaskStatus) -> None:
        try:
            self._stop_hard(handle, plugin, reason)
        except Exception as error:     # a worker gone mid-call: the run settles from its futures
            log.warning("stopping %s of run %s hard: %s: %s", plugin or "the plugins",
                        handle.run_id, type(error).__name__, error)

    def _stop_hard(self, handle: RunHandle, plugin: str | None, reason: TaskStatus) -> None:
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
            self._restart_workers(handle, stuck, plugin, reason)

    def _record_stopped(self, handle: RunHandle, task_id: str, reason: TaskStatus) -> None:
        """The task's end, with its reason: its worker is about to be restarted."""
        task = handle.state.tasks[task_id]
        fail_hard = any(t.fail_hard for t in handle.plan.tasks if t.task_id == task_id)
        waited = self.grace + RESTART_AFTER
        handle.state.handle({
            "kind": "task_finished", "run_id": handle.run_id, "task_id": task_id,
            "hook": task["hook"], "plugin": task["plugin"], "status": reason,
            "started": task.get("started"), "finished": time.time(),
            "error": f"{reason}: still running {waited:g}s after it was asked to stop and then "
                     "stopped hard (stuck in C code, or it catches every exception); its "
                     "worker was restarted",
            # as in the worker (cancel_flags.stops_pipeline): a fail-hard time-out stops it
            "stops_pipeline": reason == TaskStatus.TIMED_OUT and fail_hard})

    def _restart_workers(self, handle: RunHandle, task_ids: list[str], plugin: str | None,
                         reason: TaskStatus) -> None:
        """Last resort for a plugin stuck in C code: its worker process is replaced."""
        client = self._client()
        addresses: set[str] = set()
        for task_id in task_ids:      # only the workers running the stuck plugins
            holders = client.run(running_here, handle.run_id, handle.state.tasks[task_id]["plugin"])
            addresses.update(address for address, count in holders.items() if count)
        for task_id in task_ids:
            self._record_stopped(handle, task_id, reason)
        flag = CancelFlag(handle.run_id, plugin, reason)      # for the restarted workers
        client.register_plugin(flag)
        self._flag_plugins.setdefault(handle.run_id, []).append(flag.name)
        if plugin is None:     # the whole run is cancelled: nothing downstream runs anyway
            client.cancel([handle.futures[task_id] for task_id in task_ids], force=True)
        if addresses:
            client.restart_workers(sorted(addresses), raise_for_error=False)

    def forget(self, run_id: str) -> None:
        """The run ended: the flags it left as worker plugins go (the flags stay set)."""
        for name in self._flag_plugins.pop(run_id, []):
            try:
                self._client().unregister_worker_plugin(name)
            except Exception as error:      # the cluster is closing: nothing to clean up
                log.debug("unregistering %s: %s", name, error)
