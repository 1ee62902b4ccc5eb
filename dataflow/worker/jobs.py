"""The jobs service (`context["services"]["jobs"]`): plugins fan work out on the cluster.

Called from inside a plugin running on a Dask worker, it submits through the
worker's client and secedes while it waits, so the waiting plugin holds no
worker slot. Job keys carry the plugin, the run and a readable name, so the
dashboard's task stream shows whose work it is. Every finished job is counted
in the plugin's progress (jobs done / total), sent to the orchestrator.
"""
from __future__ import annotations

import functools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cloudpickle
from distributed import Future, as_completed, get_client, rejoin, secede
from distributed.worker import thread_state

from dataflow.worker.cancel_flags import cancel_reason, register_jobs
from dataflow.errors import JobsCancelled
from dataflow.events import current_worker, emit
from dataflow.model import RunEnv, priority_value
from dataflow.plugins.loader import plugin_dirs

PROGRESS_INTERVAL = 0.25     # seconds between progress reports while jobs are outstanding


@functools.lru_cache(maxsize=256)
def _function_from(blob: bytes):
    return cloudpickle.loads(blob)


class ShippedFunction:
    """A plugin's function sent by value, so workers run exactly the code submitted.

    By module reference a worker would run whatever version of the plugin it imported
    first: stale after an edit, or another project's plugin of the same folder name.
    (Dask pickles a whole graph with plain pickle, so cloudpickle's by-value registry
    does not reach functions inside it.)
    """

    def __init__(self, blob: bytes, name: str):
        self.blob, self.__name__ = blob, name

    def __reduce__(self):
        return (ShippedFunction, (self.blob, self.__name__))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _function_from(self.blob)(*args, **kwargs)


def shipped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` wrapped as a ShippedFunction when it is defined in plugin code, else as is."""
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    path = getattr(module, "__file__", None) or ""
    if not any(path.startswith(folder + os.sep) for folder in plugin_dirs):
        return fn
    cloudpickle.register_pickle_by_value(module)
    return ShippedFunction(cloudpickle.dumps(fn), getattr(fn, "__name__", "job"))


@contextmanager
def seceded() -> Iterator[None]:
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

    def __init__(self, env: RunEnv, hook: str, plugin: str):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._base_priority = priority_value(env.priority)
        self._lock = threading.Lock()
        self._total = 0
        self._reported: tuple[int, int | None] = (0, 0)
        self._supervisor: threading.Thread | None = None
        self._closed = False
        self.futures: list = []
        self._worker = current_worker()
        register_jobs(env.run_id, plugin, self)

    def _key(self, name: str | None, fn: Callable[..., Any]) -> str:
        default: str = getattr(fn, "__name__", "job")
        label = (name or default).replace("-", "_")
        return f"job:{self._plugin}:{label}-{self._env.run_id}-{uuid.uuid4().hex[:12]}"

    def _check_open(self) -> None:
        reason = cancel_reason(self._env.run_id, self._plugin)
        if reason is not None:
            raise JobsCancelled(f"run {self._env.run_id} of plugin {self._plugin!r} was {reason}")

    def _priority(self, priority) -> int:
        return self._base_priority + (priority_value(priority) if priority is not None else 0)

    def submit(self, fn: Callable[..., Any], *args: Any, priority: str | int | None = None,
               name: str | None = None, **kwargs: Any) -> Future:
        """Run fn(*args, **kwargs) as one job; returns its future."""
        self._check_open()
        future = get_client().submit(shipped(fn), *args, key=self._key(name, fn),
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
        futures = get_client().map(shipped(fn), *[c[:count] for c in columns], key=keys,
                                   priority=self._priority(priority), pure=False, **kwargs)
        self._track(futures)
        return futures

    def gather(self, futures, errors: str = "raise") -> Any:
        """Results of futures, without holding a worker slot while waiting."""
        with seceded():
            results = get_client().gather(futures, errors=errors)
        self.report()
        return results

    def as_completed(self, futures, with_results: bool = False) -> Iterator[Any]:
        """Yield futures (or (future, result)) as they finish."""
        with seceded():
            yield from as_completed(futures, with_results=with_results)

    def _track(self, futures: list) -> None:
        started: threading.Thread | None = None
        with self._lock:
            self.futures.extend(futures)
            self._total += len(futures)
            if self._supervisor is None or not self._supervisor.is_alive():
                started = self._supervisor = threading.Thread(
                    target=self._watch, daemon=True, name=f"dataflow-progress-{self._plugin}")
        if started is not None:
            started.start()

    def _count_done(self) -> tuple[int, int]:
        with self._lock:
            futures, total = list(self.futures), self._total
        return sum(future.done() for future in futures), total

    def _watch(self) -> None:
        """Report progress every PROGRESS_INTERVAL while jobs are outstanding."""
        while not self._closed:
            time.sleep(PROGRESS_INTERVAL)
            done, total = self._count_done()
            self.report(done, total)
            if done >= total:
                return

    def report(self, done: int | None = None, total: int | None = None) -> None:
        """Send jobs done/total to the orchestrator (only when it changed)."""
        if done is None:
            done, total = self._count_done()
        with self._lock:       # held while sending, so reports leave in the order counted
            if (done, total) == self._reported or done < self._reported[0]:
                return
            self._reported = (done, total)
            emit({"kind": "progress", "run_id": self._env.run_id, "plugin": self._plugin,
                  "task_id": f"{self._hook}.{self._plugin}", "done": done, "total": total},
                 worker=self._worker)

    def close(self) -> None:
        """The plugin returned: send the final count and let go of its futures."""
        self.report()
        with self._lock:
            self._closed = True
            self.futures = []

    @property
    def progress(self) -> tuple[int, int]:
        return self._count_done()

    def cancel_all(self) -> None:
        """Cancel every job of this plugin that has not finished (called on cancel)."""
        with self._lock:
            pending = [future for future in self.futures if not future.done()]
        if pending:
            get_client().cancel(pending)
