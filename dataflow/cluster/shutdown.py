"""Leaving a process that owns a LocalCluster at once, once nothing is left to record.

A graceful `LocalCluster.close()` retires each worker, waits for its nanny and tears the
scheduler down: 0.3–0.8 s that a `dataflow run` process about to exit spends on workers
it will never use again. `kill_workers` ends the worker processes with SIGKILL (which
also reaches a worker the CPU governor has paused), and `exit_now` leaves without the interpreter's own (graceful, slow) cluster teardown.
A cluster is only `abandon`ed, not killed, until then: should the process not leave
through `exit_now` after all, the interpreter closes it gracefully as usual.
"""
from __future__ import annotations

import contextlib
import multiprocessing.util
import os
import signal
import sys

from distributed import LocalCluster


_abandoned: list[LocalCluster] = []


def abandon(cluster: LocalCluster) -> None:
    """`cluster` is not needed any more: `exit_now` kills its workers."""
    _abandoned.append(cluster)


def kill_workers(cluster: LocalCluster) -> None:
    """SIGKILL every worker process of `cluster`. What their plugins started and left
    behind was stopped when each task ended (worker/children.py), or asked to stay."""
    for nanny in list(cluster.workers.values()):
        pid = getattr(nanny, "pid", None)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def exit_now(code: int) -> None:
    """Leave with `code` after flushing output; what exit handlers would do that matters
    (unlinking the semaphores multiprocessing registered) is done first."""
    for cluster in _abandoned:
        kill_workers(cluster)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        getattr(multiprocessing.util, "_run_finalizers")(0)     # unlinks named semaphores
    os._exit(code)
