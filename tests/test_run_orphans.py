"""No process outlives its run: child processes a plugin leaves behind are stopped when its
task ends (unless it keeps them on purpose), and the workers of a `dataflow run` killed with
SIGKILL exit promptly — a worker the CPU governor had paused (SIGSTOP) at that moment too,
and the worker server they were forked from (cluster/worker_server.py)."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import psutil
from conftest import RUN_TIMEOUT, plugin_source, wait_until

LEAVES_CHILDREN = """
child = subprocess.Popen(["sleep", "300"])
mark("popen", child.pid)
pid = os.fork()
if pid == 0:
    time.sleep(300)
    os._exit(0)
mark("fork", pid)
return 1
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_child_processes_a_plugin_leaves_are_stopped_when_its_task_ends(
        make_project, engine_for, out_dir):
    project = make_project("pipelines:\n  p:\n    hooks: [only]\n", {
        "messy": plugin_source("messy", "only", body=LEAVES_CHILDREN, out=out_dir,
                               imports=["subprocess"]),
        "keeper": plugin_source("keeper", "only", out=out_dir, imports=["subprocess"],
                                KEEP_CHILD_PROCESSES=True, body="""
            mark("popen", subprocess.Popen(["sleep", "300"]).pid)
            return 2
            """)})
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    pids = {what: int(out_dir.read("messy", what)) for what in ("popen", "fork")}
    kept = int(out_dir.read("keeper", "popen"))
    try:
        assert result.status == "completed", result.tasks
        for what, pid in pids.items():
            assert gone(pid), f"the {what} child {pid} outlived its task"
        assert not gone(kept), "KEEP_CHILD_PROCESSES = True keeps them"
    finally:
        for pid in [*pids.values(), kept]:
            kill(pid)


def test_a_paused_worker_exits_when_its_orchestrator_is_killed(make_project, store_env,
                                                              out_dir, tmp_path):
    project = make_project("pipelines:\n  p:\n    hooks: [only]\n", {
        "waiter": plugin_source("waiter", "only", out=out_dir, body="""
            mark("pid", os.getpid())
            wait_for("never", seconds=300)
            """)})
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    with open(tmp_path / "run.out", "w") as sink:       # files: orphans hold no pipe open
        run = subprocess.Popen([sys.executable, "-m", "dataflow", "run", "p", "--json"],
                               env=env, stdout=sink, stderr=sink)
    worker = None
    try:
        worker = int(wait_until(lambda: out_dir.read("waiter", "pid"), 120,
                                message="the plugin to start"))
        parent = psutil.Process(worker).ppid()      # the run's worker server
        assert parent != run.pid and psutil.Process(parent).ppid() == run.pid
        os.kill(worker, signal.SIGSTOP)        # as the governor pauses it, many times a second
        wait_until(lambda: psutil.Process(worker).status() == psutil.STATUS_STOPPED, 10)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
        wait_until(lambda: gone(worker), 60, message="the paused worker to exit")
        wait_until(lambda: gone(parent), 60, message="the worker server to exit")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(30)
        if worker is not None:
            kill(worker)
