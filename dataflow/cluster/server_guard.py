"""Imported first by the worker server (cluster/worker_server.py) as it starts: it dies
with the orchestrator that started it.

The worker processes it forks hold its "alive" pipe open, so on its own it would outlive a
killed orchestrator for as long as they do. A worker the CPU governor had paused at that
moment runs again only when its parent dies (worker_setup.WakeWhenOrphaned): the kernel's
parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`) ends this server with its
orchestrator, which wakes them. It also ignores Ctrl-C, as the workers do. Does nothing in
any other process.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

ORCHESTRATOR_PID = "DATAFLOW_WORKER_SERVER_PARENT"    # set only for the server's start
PR_SET_PDEATHSIG = 1                                  # <linux/prctl.h>


def die_with_orchestrator() -> None:
    orchestrator = os.environ.pop(ORCHESTRATOR_PID, None)   # workers forked later: unset
    if orchestrator is None:
        return
    # A Ctrl-C reaches the terminal's whole process group: the orchestrator cancels the run
    # (cli/local_run.py); this server, still importing, would die with a traceback instead.
    # Its workers inherit this, as the nannies' workers get it (IgnoreTerminalInterrupt).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != int(orchestrator):       # it died before the signal was armed
        os._exit(0)


die_with_orchestrator()
