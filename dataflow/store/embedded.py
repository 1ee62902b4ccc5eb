"""The project's embedded MongoDB-compatible server (SecantusDB), shared by dataflow processes.

One server per storage folder (a second dies "Device or resource busy"): starters serialise on an
flock (embedded_lock.py), reuse the server named in ``server.json`` and restart a dead one on
its previous port, so clients that know that address reconnect by themselves. A server that
is alive but slow to answer (paused, busy disk) is waited for and never replaced: other
processes may be using it."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import psutil

from dataflow.errors import EmbeddedStoreError
from dataflow.store.embedded_lock import locked
from dataflow.store.embedded_process import (PING_TIMEOUT, ServerPaths, answers, is_running,
                                             now, our_processes, pick_port, served_port, spawn,
                                             terminate, uri, wait_until_answers)

START_TIMEOUT = 20.0  # seconds a server gets to start; also what a command waits for the lock
FIX_HINT = ("Fix the cause above and retry, or set DATAFLOW_MONGO_URI (or the store URI in "
            "config/system.yaml) to use another MongoDB.")

__all__ = ["EmbeddedStoreError", "embedded_server_info", "ensure_embedded_server",
           "stop_embedded_server"]


def ensure_embedded_server(state_dir: Path, timeout: float = START_TIMEOUT) -> str:
    """Return the URI of the project's embedded server, starting it if none runs."""
    paths = ServerPaths(state_dir)
    with locked(paths, timeout):
        state = _running_state(paths, timeout) or _adopt(paths, timeout) \
            or _start_server(paths, timeout)
        return uri(state["port"])


def embedded_server_info(state_dir: Path) -> dict | None:
    """The live server's state (pid, port, storage) plus ``uri`` and ``bytes`` (its data's
    size on disk), or None when none answers."""
    paths = ServerPaths(state_dir)
    state = _read_state(paths)
    if state is None or _our_pid(paths, state) is None or not answers(state["port"], PING_TIMEOUT):
        return None
    files = [f for f in Path(state["storage"]).rglob("*") if f.is_file()]
    return {**state, "uri": uri(state["port"]), "bytes": sum(f.stat().st_size for f in files)}


def stop_embedded_server(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the project's server (SIGTERM, then SIGKILL); True when one was running."""
    paths = ServerPaths(state_dir)
    with locked(paths, START_TIMEOUT + timeout):
        procs = our_processes(paths)
        for proc in procs:
            terminate(proc, timeout)
        with contextlib.suppress(FileNotFoundError):
            paths.state.unlink()
        return bool(procs)


def _our_pid(paths: ServerPaths, state: dict) -> psutil.Process | None:
    """The state file's process if it runs and serves our folder on the recorded port."""
    try:
        proc = psutil.Process(state["pid"])
        ours = is_running(proc) and served_port(proc.cmdline(), paths) == state["port"]
    except psutil.Error:  # pid gone, or not ours to inspect
        return None
    return proc if ours else None


def _running_state(paths: ServerPaths, budget: float) -> dict | None:
    """The state file's content if its server runs; None when it is gone (restart it).
    A server that runs but does not answer is waited for, then reported: never replaced."""
    state = _read_state(paths)
    proc = None if state is None else _our_pid(paths, state)
    if state is None or proc is None:
        return None
    if answers(state["port"], PING_TIMEOUT) or wait_until_answers(proc, state["port"], budget):
        return state
    if not is_running(proc):  # it ended while we waited: start another
        return None
    raise _unresponsive_error(paths, proc.pid, state["port"], budget)


def _adopt(paths: ServerPaths, budget: float) -> dict | None:
    """Reuse a server of ours that lost its state file (or whose file names another pid)."""
    for proc, port in our_processes(paths).items():
        if wait_until_answers(proc, port, budget):
            return _record(paths, proc.pid, port)
        if is_running(proc):
            raise _unresponsive_error(paths, proc.pid, port, budget)
    return None


def _start_server(paths: ServerPaths, timeout: float) -> dict:
    """Start a detached server, on its previous port when that is free, wait until it
    answers, record its state."""
    previous = _previous_port(paths)
    with contextlib.suppress(FileNotFoundError):
        paths.state.unlink()
    port = pick_port(previous)
    proc = spawn(paths, port)
    answered = wait_until_answers(proc, port, timeout)
    if not answered and proc.poll() is not None and port == previous:
        port = pick_port(None)  # someone took the old port in the meantime
        proc = spawn(paths, port)
        answered = wait_until_answers(proc, port, timeout)
    if answered:
        # Reap the server whenever it exits, so it never lingers as a zombie of this process.
        threading.Thread(target=proc.wait, name="dataflow-embedded-reaper", daemon=True).start()
        return _record(paths, proc.pid, port)
    if proc.poll() is not None:
        raise _start_error(paths, f"exited with code {proc.returncode}")
    terminate(proc, PING_TIMEOUT)
    proc.poll()  # reap it
    raise _start_error(paths, f"did not answer within {timeout:g} s")


def _previous_port(paths: ServerPaths) -> int | None:
    """The port the last server of this folder listened on (state file, else server.port)."""
    state = _read_state(paths)
    if state is not None:
        return state["port"]
    with contextlib.suppress(OSError, ValueError):
        return int(paths.port.read_text().strip())
    return None


def _read_state(paths: ServerPaths) -> dict | None:  # None when missing or unreadable
    try:
        state = json.loads(paths.state.read_text())
        return state if isinstance(state["pid"], int) and isinstance(state["port"], int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(paths: ServerPaths, pid: int, port: int) -> dict:
    """Write the state file atomically (tmp + rename) so readers never see half of it; the
    port also goes to server.port, which outlives a stop."""
    state = {"pid": pid, "port": port, "started": now(), "storage": str(paths.db)}
    for target, text in ((paths.state, json.dumps(state, indent=2)), (paths.port, str(port))):
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
    return state


def _unresponsive_error(paths: ServerPaths, pid: int, port: int, waited: float) -> EmbeddedStoreError:
    return EmbeddedStoreError(
        f"The embedded MongoDB server (pid {pid}, port {port}, data in {paths.db}) is running "
        f"but did not answer within {waited:g} s: it may be paused or overloaded. It is not "
        "replaced, since other dataflow processes may be using it. Retry in a moment; if it "
        f"is stuck, end it (`kill {pid}`; `kill -9 {pid}` if it does not exit) and retry: "
        f"the next command starts it again on port {port}. Its log: {paths.log}.")


def _start_error(paths: ServerPaths, what: str) -> EmbeddedStoreError:
    """An error carrying the last 20 lines of the server log and how to get going again."""
    try:
        tail = "\n".join(paths.log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        tail = "(no log)"
    return EmbeddedStoreError(f"The embedded MongoDB server (SecantusDB, data in {paths.db}) "
                              f"{what}.\nLast lines of {paths.log}:\n{tail}\n{FIX_HINT}")
