"""The SecantusDB process of an embedded store: spawn it, probe it, find it, end it.

Pure process and socket work; the decisions (reuse, wait, restart) are in embedded.py."""
from __future__ import annotations

import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pymongo

HOST = "127.0.0.1"
PING_TIMEOUT = 1.0  # a live server answers ping well within this
KILL_GRACE = 5.0  # after SIGKILL, how long to wait for the process to be gone
POLL_INTERVAL = 0.05
PORT_WAIT = 2.0  # seconds the previous port gets to be released by a server that died


class ServerPaths:
    """The files of one embedded server, all under the project's state folder."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir).resolve()
        self.db = self.dir / "db"
        self.state = self.dir / "server.json"
        self.port = self.dir / "server.port"  # the last port, kept after a stop
        self.log = self.dir / "server.log"
        self.lock = self.dir / "server.lock"


def spawn(paths: ServerPaths, port: int) -> psutil.Popen:
    """Launch SecantusDB in its own session so it outlives the process that started it."""
    command = [sys.executable, "-m", "secantus", "--host", HOST, "--port", str(port),
               "--storage-path", str(paths.db)]
    with open(paths.log, "ab", buffering=0) as log:  # unbuffered: header before server output
        log.write(f"--- {now()} dataflow starts: {' '.join(command)}\n".encode())
        return psutil.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, cwd=paths.dir, start_new_session=True,
                            close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_until_answers(proc: psutil.Process, port: int, budget: float) -> bool:
    """Poll until the server answers ping; False once it exits or the budget is spent."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if not is_running(proc):
            return False
        if answers(port, min(PING_TIMEOUT, max(deadline - time.monotonic(), 0.1))):
            return True
        time.sleep(POLL_INTERVAL)
    return False


def answers(port: int, timeout: float) -> bool:
    """True when a MongoDB-wire server on the port answers ping within the timeout."""
    try:  # a closed port fails at once instead of after the driver's retry back-off
        socket.create_connection((HOST, port), timeout=min(timeout, 0.2)).close()
    except OSError:
        return False
    ms = int(timeout * 1000)
    client: pymongo.MongoClient[dict] = pymongo.MongoClient(
        uri(port), serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms,
        appname="dataflow-embedded-probe")
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def our_processes(paths: ServerPaths) -> dict[psutil.Process, int]:
    """Every running SecantusDB on our storage folder (whoever started it) and its port."""
    ports = {proc: served_port(proc.info["cmdline"] or [], paths)
             for proc in psutil.process_iter(["cmdline"])}
    return {proc: port for proc, port in ports.items() if port is not None and is_running(proc)}


def served_port(cmdline: list[str], paths: ServerPaths) -> int | None:
    """The port of a ``python -m secantus ... --storage-path <our db>`` command, else None."""
    options = dict(zip(cmdline, cmdline[1:]))  # each flag -> the word after it
    storage = options.get("--storage-path", "")
    if options.get("-m") != "secantus" or not os.path.isabs(storage):
        return None
    if Path(storage).resolve() != paths.db or not options.get("--port", "").isdigit():
        return None
    return int(options["--port"])


def is_running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a dead process not yet reaped still has its pid)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def terminate(proc: psutil.Process, timeout: float) -> None:
    """SIGTERM, wait up to the timeout, then SIGKILL; returns once the process is gone."""
    for sig, budget in ((signal.SIGTERM, timeout), (signal.SIGKILL, KILL_GRACE)):
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
        if sig == signal.SIGTERM:  # a paused (SIGSTOP) server only acts on it once resumed
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + budget
        while is_running(proc) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
        if not is_running(proc):
            return


def pick_port(preferred: int | None, wait: float = PORT_WAIT) -> int:
    """The preferred port (the server's previous one) when nobody listens there, else any
    free port the OS picks, so clients that know the old address find the server again.
    A server that just died may hold its port for a moment: it gets `wait` seconds."""
    deadline = time.monotonic() + wait
    while preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, preferred))
                return preferred
            except OSError:
                if time.monotonic() > deadline:
                    break
        time.sleep(POLL_INTERVAL)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def uri(port: int) -> str:
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
