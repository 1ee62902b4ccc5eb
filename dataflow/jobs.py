"""The jobs service (`context["services"]["jobs"]`): plugins fan work out on the cluster.

Called from inside a plugin running on a Dask worker, it submits through the
worker's client and secedes while it waits, so the waiting plugin holds no
worker slot. Job keys carry the run, the plugin and a readable name.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager

from distributed import as_completed, get_client, rejoin, secede
from distributed.worker import thread_state

PRIORITY_VALUES = {"low": -10, "normal": 0, "high": 10, "critical": 20}


def priority_value(priority) -> int:
    if isinstance(priority, int):
        return priority
    try:
        return PRIORITY_VALUES[priority or "normal"]
    except KeyError:
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_VALUES)} "
                         f"or an integer, got {priority!r}") from None


@contextmanager
def _seceded():
    """Give the worker slot back while waiting, if we hold one."""
    in_task = getattr(thread_state, "key", None) is not None
    if in_task:
        secede()
    try:
        yield
    finally:
        if in_task:
            rejoin()


class JobScheduler:
    """submit / map / gather / as_completed onto the run's cluster."""

    def __init__(self, env, hook: str, plugin: str):
        self._env, self._hook, self._plugin = env, hook, plugin
        self._base_priority = priority_value(env.priority)
        self.futures: list = []

    def _key(self, name: str | None, fn) -> str:
        label = name or getattr(fn, "__name__", "job")
        return f"job:{self._plugin}:{label}-{self._env.run_id[:8]}-{uuid.uuid4().hex[:12]}"

    def _priority(self, priority) -> int:
        return self._base_priority + (priority_value(priority) if priority is not None else 0)

    def submit(self, fn, *args, priority=None, name: str | None = None, **kwargs):
        future = get_client().submit(fn, *args, key=self._key(name, fn),
                                     priority=self._priority(priority), pure=False, **kwargs)
        self.futures.append(future)
        return future

    def map(self, fn, *iterables, priority=None, name: str | None = None, **kwargs) -> list:
        items = list(zip(*iterables))
        keys = [self._key(name, fn) for _ in items]
        futures = get_client().map(fn, *zip(*items), key=keys,
                                   priority=self._priority(priority), pure=False,
                                   **kwargs) if items else []
        self.futures.extend(futures)
        return futures

    def gather(self, futures, errors: str = "raise"):
        with _seceded():
            return get_client().gather(futures, errors=errors)

    def as_completed(self, futures, with_results: bool = False):
        with _seceded():
            yield from as_completed(futures, with_results=with_results)
