"""Prepares every Dask worker (present and future) for a project's plugins.

Functions defined in a plugin and sent as jobs are pickled by reference
(`plugin_module.function`); a worker that never imported that plugin must still
find it, so the plugin folders go on each worker's sys.path.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

import psutil
from distributed.diagnostics.plugin import WorkerPlugin

from dataflow.cluster.paused_memory import GiveBackMemoryWhenPaused
from dataflow.cluster.server_guard import PR_SET_PDEATHSIG
from dataflow.plugins.loader import plugin_dirs

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.project import Project

PLUGIN_NAME = "dataflow-plugin-paths"


class PluginPaths(WorkerPlugin):
    """Adds the project's plugin folders to sys.path on each worker."""

    name = PLUGIN_NAME

    def __init__(self, paths: list[str]):
        self.paths = list(paths)

    def setup(self, worker=None, **kwargs) -> None:
        add_paths(self.paths)


class IgnoreTerminalInterrupt(WorkerPlugin):
    """Worker processes of our own LocalCluster ignore SIGINT.

    Ctrl-C in a terminal reaches the whole process group: without this, the workers
    would die with KeyboardInterrupt tracebacks, and the run would fail instead of being
    cancelled cleanly by the orchestrator (which does get the Ctrl-C). Never registered
    on someone else's cluster (`cluster.address`).
    """

    name = "dataflow-ignore-sigint"

    def setup(self, worker=None, **kwargs) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


class WakeWhenOrphaned(WorkerPlugin):
    """Worker processes of our own LocalCluster get SIGCONT when their parent dies.

    A worker notices its orchestrator's death (even `kill -9`) through a pipe and exits at
    once — unless the CPU governor had paused it (SIGSTOP) at that moment: nobody would ever
    resume it, and it would stay behind for good. The kernel's parent-death signal
    (Linux `prctl(PR_SET_PDEATHSIG)`) is delivered to a stopped process too; SIGCONT wakes
    it, and it then exits as a running worker does (and harms nothing otherwise). A worker
    forked from the worker server (cluster/worker_server.py) has that server for parent,
    which dies with the orchestrator (cluster/server_guard.py).
    """

    name = "dataflow-wake-when-orphaned"

    def __init__(self, orchestrator_pid: int):
        self.orchestrator_pid = orchestrator_pid

    def setup(self, worker=None, **kwargs) -> None:
        if sys.platform.startswith("linux") and self.orchestrator_pid in _parent_and_its_parent():
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGCONT))


def _parent_and_its_parent() -> tuple[int, ...]:
    parent = os.getppid()
    try:
        return parent, psutil.Process(parent).ppid()
    except psutil.Error:
        return (parent,)


def add_paths(paths: list[str]) -> None:
    for path in paths:
        plugin_dirs.add(path)          # so the registry knows these are plugin folders
        if path not in sys.path:
            sys.path.append(path)


def prepare_workers(client: Client, project: Project, own_cluster: bool = False) -> None:
    """Register PluginPaths for the project's plugin folders on this client's cluster (and,
    on a cluster this process started, IgnoreTerminalInterrupt, WakeWhenOrphaned and
    GiveBackMemoryWhenPaused)."""
    if own_cluster:
        client.register_plugin(IgnoreTerminalInterrupt())
        client.register_plugin(WakeWhenOrphaned(os.getpid()))
        client.register_plugin(GiveBackMemoryWhenPaused())
    folders = [str((project.directory / path).resolve())
               for path in project.settings.plugin_paths]
    add_paths(folders)
    client.register_plugin(PluginPaths(folders), name=f"{PLUGIN_NAME}-{abs(hash(tuple(folders)))}")
