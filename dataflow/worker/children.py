"""Child processes a plugin starts and leaves behind (`subprocess.Popen`, `os.fork`,
`multiprocessing`) are stopped when its call ends: SIGTERM, then SIGKILL after
STOP_WAIT seconds. A plugin meant to leave one running says so with
`KEEP_CHILD_PROCESSES = True`.

New children are those of the worker process that were not there before the call (with
their own descendants); one that detached itself (a double-forked daemon) is no longer
the worker's and is left alone.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

import psutil

STOP_WAIT = 3.0


_tasks_folder: dict[int, int] = {}     # pid → an open fd of /proc/<pid>/task


def _task_folder() -> int:
    pid = os.getpid()       # a forked child must not read its parent's folder
    if pid not in _tasks_folder:
        _tasks_folder[pid] = os.open(f"/proc/{pid}/task", os.O_RDONLY | os.O_DIRECTORY)
    return _tasks_folder[pid]


def _children_pids() -> set[int]:
    """This process's own children: cheap from /proc on Linux (read twice per task, so
    with raw fds relative to an open folder: ~0.08 ms with 16 threads, 3x less than
    open()), else psutil (which reads every process on the machine)."""
    pids: set[int] = set()
    try:
        folder = _task_folder()
        for thread in os.listdir(folder):
            listing = os.open(f"{thread}/children", os.O_RDONLY, dir_fd=folder)
            try:
                pids.update(int(pid) for pid in os.read(listing, 1 << 16).split())
            finally:
                os.close(listing)
        return pids
    except (OSError, ValueError):        # not Linux, or a thread ended meanwhile
        return {child.pid for child in psutil.Process().children()}


def _with_descendants(pids: set[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            child = psutil.Process(pid)
            found += [child, *child.children(recursive=True)]
    return found


def stop_processes(processes: list[psutil.Process], wait: float = STOP_WAIT) -> None:
    """SIGTERM (a paused one is resumed to receive it), then SIGKILL what is left."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
            process.resume()
    _, alive = psutil.wait_procs(processes, timeout=wait)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=wait)      # reaps our own children: no zombies


@contextlib.contextmanager
def children_stopped(module: ModuleType) -> Iterator[None]:
    """Around one plugin call: the processes it started are stopped when it ends."""
    if getattr(module, "KEEP_CHILD_PROCESSES", False):
        yield
        return
    before = _children_pids()
    try:
        yield
    finally:
        left = _with_descendants(_children_pids() - before)
        if left:
            stop_processes(left)
