"""A paused worker gives back the memory it holds free, so it can run again.

Dask pauses a worker whose process memory passes 80% of its limit and resumes it once it
is back under. Memory a task freed but the allocators kept (Arrow's pool, malloc's arenas)
never goes back on its own, and a paused worker runs nothing that would free more: it
stays paused for good, and whatever waits on it — a shuffle inside a plugin's compute(),
the next chunk of a stream — waits forever (seen: the write of a streamed run, its
groupby's shuffle stuck on a worker paused at 252 MiB of a 252 MiB threshold). While
paused, the worker collects garbage and returns its free memory every second.
"""
from __future__ import annotations

import ctypes
import gc
import sys
from typing import Any

from distributed.core import Status
from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

CHECK_EVERY_MS = 1000


def _malloc_trim() -> Any:
    """glibc's malloc_trim (None elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL("libc.so.6"), "malloc_trim", None)
    except OSError:
        return None


MALLOC_TRIM = _malloc_trim()


def give_back_free_memory() -> None:
    gc.collect()
    arrow = sys.modules.get("pyarrow")     # only if a task loaded it
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)


class GiveBackMemoryWhenPaused(WorkerPlugin):
    """Registered on the clusters dataflow starts (cluster/worker_setup.prepare_workers)."""

    name = "dataflow-give-back-memory-when-paused"

    def __init__(self) -> None:
        self.callback: PeriodicCallback | None = None

    def setup(self, worker=None, **kwargs) -> None:
        def check() -> None:
            if worker is not None and worker.status == Status.paused:
                give_back_free_memory()
        self.callback = PeriodicCallback(check, CHECK_EVERY_MS)
        self.callback.start()

    def teardown(self, worker=None, **kwargs) -> None:
        if self.callback is not None:
            self.callback.stop()
