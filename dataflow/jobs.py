"""The jobs service (`context["services"]["jobs"]`): plugins fan work out on the cluster.

Called from inside a plugin running on a Dask worker, it submits through the
worker's client and secedes while it waits, so the waiting plugin holds no
worker slot. Job keys carry the plugin, the run and a readable name, so the
dashboard's task stream shows whose work it is. Every finished job is counted
in the plugin's progress (jobs done / total), sent to the orchestrator.
"""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager

from distributed import as_completed, get_client, rejoin, secede
from distributed.worker import thread_state

from dataflow.cancellation import cancel_reason, register_jobs
from dataflow.errors import DataflowError
from dataflow.events import current_worker, emit

PRIORITY_VALUES = {"low": -10, "normal": 0, "high": 10, "critical": 20}
PROGRESS_INTERVAL = 0.25     # seconds between progress events while jobs finish


class JobsCancelled(DataflowError):
    """The plugin's run was cancelled: no more jobs are accepted."""


def priority_value(priority) -> int:
    if isinstance(priority, int):
        return priority
    try:
        return PRIORITY_VALUES[priority or "normal"]
    except KeyError:
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_VALUES)} "
                         f"or an integer, got {priority!r}") from None


@contextmanager
def seceded():
    """Give the worker slot back while waiting, if this thread holds one."""
    in_task = getattr(thread_state, "key", None) is not None
    if in_task:
        secede()
    try:
        yield
    finally:
        if in_task:
            rejoin()


class JobScheduler:
    """submit / map / gather / as_completed onto the run's cluster, with priorities."""

    def __init__(self, env, hook: str, plugin: str):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._base_priority = priority_value(env.priority)
        self._lock = threading.Lock()
        self._total = self._done = 0
        self._last_emit = 0.0
        self.futures: list = []
        self._worker = current_worker()
        register_jobs(env.run_id, plugin, self)

    def _key(self, name: str | None, fn) -> str:
        label = (name or getattr(fn, "__name__", "job")).replace("-", "_")
        return f"job:{self._plugin}:{label}-{self._env.run_id}-{uuid.uuid4().hex[:12]}"

    def _check_open(self) -> None:
        reason = cancel_reason(self._env.run_id, self._plugin)
        if reason is not None:
            raise JobsCancelled(f"run {self._env.run_id} of plugin {self._plugin!r} was {reason}")

    def _priority(self, priority) -> int:
        return self._base_priority + (priority_value(priority) if priority is not None else 0)

    def submit(self, fn, *args, priority=None, name: str | None = None, **kwargs):
        """Run fn(*args, **kwargs) as one job; returns its future."""
        self._check_open()
        future = get_client().submit(fn, *args, key=self._key(name, fn),
                                     priority=self._priority(priority), pure=False, **kwargs)
        self._track([future])
        return future

    def map(self, fn, *iterables, priority=None, name: str | None = None, **kwargs) -> list:
        """One job per item (zip of iterables, like the builtin map); returns the futures."""
        self._check_open()
        columns = [list(iterable) for iterable in iterables]
        count = min(map(len, columns)) if columns else 0
        if not count:
            return []
        keys = [self._key(name, fn) for _ in range(count)]
        futures = get_client().map(fn, *[c[:count] for c in columns], key=keys,
                                   priority=self._priority(priority), pure=False, **kwargs)
        self._track(futures)
        return futures

    def gather(self, futures, errors: str = "raise"):
        """Results of futures, without holding a worker slot while waiting."""
        with seceded():
            return get_client().gather(futures, errors=errors)

    def as_completed(self, futures, with_results: bool = False):
        """Yield futures (or (future, result)) as they finish."""
        with seceded():
            yield from as_completed(futures, with_results=with_results)

    def _track(self, futures: list) -> None:
        with self._lock:
            self.futures.extend(futures)
            self._total += len(futures)
        for future in futures:
            future.add_done_callback(self._job_done)

    def _job_done(self, _future) -> None:
        with self._lock:
            self._done += 1
            now = time.monotonic()
            due = self._done == self._total or now - self._last_emit >= PROGRESS_INTERVAL
            if due:
                self._last_emit = now
            done, total = self._done, self._total
        if due:
            emit({"kind": "progress", "run_id": self._env.run_id, "plugin": self._plugin,
                  "task_id": f"{self._hook}.{self._plugin}", "done": done, "total": total},
                 worker=self._worker)

    @property
    def progress(self) -> tuple[int, int]:
        with self._lock:
            return self._done, self._total

    def cancel_all(self) -> None:
        """Cancel every job of this plugin that has not finished (called on cancel)."""
        with self._lock:
            pending = [future for future in self.futures if not future.done()]
        if pending:
            get_client().cancel(pending)
