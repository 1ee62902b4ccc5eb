"""Cancel flags and the running-task registry of one process (a Dask worker).

`context.cancelled()` is called often inside plugin loops, so it must not talk to
the scheduler: the orchestrator pushes flags to every worker (`client.run`), and
they are read here for free. The functions called through `client.run` execute on
the worker's event loop, so anything that may block (a plugin's `cancel()`,
cancelling its jobs) is handed to a short-lived thread.
"""
from __future__ import annotations

import ctypes
import threading
from types import ModuleType

from distributed.diagnostics.plugin import WorkerPlugin

from dataflow.errors import PluginStopped
from dataflow.statuses import TaskStatus

_flags: dict[tuple[str, str | None], TaskStatus] = {}
_running: dict[tuple[str, str], dict] = {}
_lock = threading.Lock()


def cancel_reason(run_id: str, plugin: str | None = None) -> TaskStatus | None:
    """Why this run or plugin was stopped (cancelled / timed_out), or None."""
    return _flags.get((run_id, plugin)) or _flags.get((run_id, None))


def stops_pipeline(reason: TaskStatus, fail_hard: bool) -> bool:
    """A fail-hard plugin past its deadline stops the pipeline, as its failure would; a
    cancel asked for by someone does not (the rest of the run goes on, or is cancelled too)."""
    return reason == TaskStatus.TIMED_OUT and fail_hard


def is_cancelled(run_id: str, plugin: str | None = None) -> bool:
    return cancel_reason(run_id, plugin) is not None


def task_started(run_id: str, plugin: str, module: ModuleType) -> dict:
    """Register the current thread as running `plugin` of `run_id`."""
    entry = {"thread": threading.get_ident(), "module": module, "jobs": []}
    with _lock:
        _running[(run_id, plugin)] = entry
    return entry


def task_finished(run_id: str, plugin: str) -> None:
    with _lock:
        _running.pop((run_id, plugin), None)


def register_jobs(run_id: str, plugin: str, scheduler) -> None:
    with _lock:
        entry = _running.get((run_id, plugin))
        if entry is not None:
            entry["jobs"].append(scheduler)


def _matching(run_id: str, plugin: str | None) -> list[dict]:
    with _lock:
        return [entry for (rid, pid), entry in _running.items()
                if rid == run_id and plugin in (None, pid)]


def _stop_cooperatively(entry: dict) -> None:
    for scheduler in entry["jobs"]:
        scheduler.cancel_all()
    cancel = getattr(entry["module"], "cancel", None)
    if callable(cancel):
        try:
            cancel()
        except Exception:      # a broken cancel() must not keep the others from stopping
            pass


def request_cancel(run_id: str, plugin: str | None = None,
                   reason: TaskStatus = TaskStatus.CANCELLED) -> int:
    """Set the flag here and ask matching running plugins to stop; returns how many run here."""
    with _lock:
        _flags.setdefault((run_id, plugin), reason)
    entries = _matching(run_id, plugin)
    for entry in entries:
        threading.Thread(target=_stop_cooperatively, args=(entry,), daemon=True,
                         name="dataflow-cancel").start()
    return len(entries)


def hard_stop(run_id: str, plugin: str | None = None) -> int:
    """Raise PluginStopped in the threads still running matching plugins; returns the count."""
    stopped = 0
    with _lock:     # held so the thread cannot leave the plugin's try block meanwhile
        for (rid, pid), entry in _running.items():
            if rid == run_id and plugin in (None, pid):
                result = ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(entry["thread"]), ctypes.py_object(PluginStopped))
                stopped += int(result == 1)
    return stopped


def running_here(run_id: str, plugin: str | None = None) -> int:
    return len(_matching(run_id, plugin))


class CancelFlag(WorkerPlugin):
    """One cancel flag for every worker, present and future: a worker restarted to stop a
    stuck plugin must still know the task it is handed again was stopped (and why)."""

    def __init__(self, run_id: str, plugin: str | None, reason: TaskStatus):
        self.run_id, self.plugin, self.reason = run_id, plugin, TaskStatus(reason)
        self.name = f"dataflow-cancel-{run_id}-{plugin or '*'}"

    def setup(self, worker=None, **kwargs) -> None:
        with _lock:
            _flags.setdefault((self.run_id, self.plugin), self.reason)
