"""The project's embedded MongoDB-compatible server (SecantusDB), shared by dataflow processes.

One server per storage folder (a second dies "Device or resource busy"): starters serialise on an
flock, reuse the server named in ``server.json``, replace stale state (dead/reused/hung pid)."""
import contextlib
import datetime
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pymongo

from dataflow.errors import EmbeddedStoreError

HOST = "127.0.0.1"
PING_TIMEOUT = 1.0  # a live server answers ping well within this
HUNG_GRACE = 5.0  # a busy server gets this long to answer before it is declared hung
LOCK_MARGIN = 30.0  # beyond a caller's timeout: outwait another holder's start or stop
POLL_INTERVAL = 0.05
FIX_HINT = ("Fix the cause above and retry, or set DATAFLOW_MONGO_URI (or the store URI in "
            "config/system.yaml) to use another MongoDB.")


def ensure_embedded_server(state_dir: Path, timeout: float = 20.0) -> str:
    """Return the URI of the project's embedded server, starting it if none is live."""
    paths = _Paths(state_dir)
    with _locked(paths, timeout + LOCK_MARGIN):
        state = _live_state(paths) or _adopt_or_clear(paths) or _start_server(paths, timeout)
        return _uri(state["port"])


def embedded_server_info(state_dir: Path) -> dict | None:
    """The live server's state (pid, port, storage) plus ``uri`` and ``bytes`` (its data's
    size on disk), or None when none answers."""
    state = _live_state(_Paths(state_dir))
    if state is None:
        return None
    files = [f for f in Path(state["storage"]).rglob("*") if f.is_file()]
    return {**state, "uri": _uri(state["port"]), "bytes": sum(f.stat().st_size for f in files)}


def stop_embedded_server(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the project's server (SIGTERM, then SIGKILL); True when one was running."""
    paths = _Paths(state_dir)
    with _locked(paths, timeout + LOCK_MARGIN):
        procs = _our_processes(paths)
        for proc in procs:
            _terminate(proc, timeout)
        with contextlib.suppress(FileNotFoundError):
            paths.state.unlink()
        return bool(procs)


class _Paths:
    """The files of one embedded server, all under the project's state folder."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir).resolve()
        self.db = self.dir / "db"
        self.state = self.dir / "server.json"
        self.log = self.dir / "server.log"
        self.lock = self.dir / "server.lock"


@contextlib.contextmanager
def _locked(paths: _Paths, wait: float):
    """Hold an exclusive flock so only one process checks, starts or stops the server."""
    paths.dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(paths.lock, "a+") as handle:
        while True:
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            if time.monotonic() > deadline:
                raise EmbeddedStoreError(f"Timed out waiting for {paths.lock}: another process "
                                         f"is starting or stopping the server. {FIX_HINT}")
            time.sleep(POLL_INTERVAL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_state(paths: _Paths) -> dict | None:
    """The state file's content if its server is ours, alive and answering; else None."""
    state = _read_state(paths)
    if state is None:
        return None
    try:
        proc = psutil.Process(state["pid"])
        ours = _is_running(proc) and _served_port(proc.cmdline(), paths) == state["port"]
    except psutil.Error:  # pid gone, or not ours to inspect
        return None
    return state if ours and _answers(state["port"], PING_TIMEOUT) else None


def _adopt_or_clear(paths: _Paths) -> dict | None:
    """Reuse a server of ours that lost its state file; end hung ones holding the folder."""
    with contextlib.suppress(FileNotFoundError):
        paths.state.unlink()
    for proc, port in _our_processes(paths).items():
        if _wait_until_answers(proc, port, HUNG_GRACE):
            return _record(paths, proc.pid, port)
        _terminate(proc, HUNG_GRACE)
    return None


def _start_server(paths: _Paths, timeout: float) -> dict:
    """Start a detached server on a free port, wait until it answers, record its state."""
    port = _free_port()
    proc = _spawn(paths, port)
    if _wait_until_answers(proc, port, timeout):
        # Reap the server whenever it exits, so it never lingers as a zombie of this process.
        threading.Thread(target=proc.wait, name="dataflow-embedded-reaper", daemon=True).start()
        return _record(paths, proc.pid, port)
    if proc.poll() is not None:
        raise _start_error(paths, f"exited with code {proc.returncode}")
    _terminate(proc, HUNG_GRACE)
    proc.poll()  # reap it
    raise _start_error(paths, f"did not answer within {timeout:g} s")


def _spawn(paths: _Paths, port: int) -> psutil.Popen:
    """Launch SecantusDB in its own session so it outlives the process that started it."""
    command = [sys.executable, "-m", "secantus", "--host", HOST, "--port", str(port),
               "--storage-path", str(paths.db)]
    with open(paths.log, "ab", buffering=0) as log:  # unbuffered: header before server output
        log.write(f"--- {_now()} dataflow starts: {' '.join(command)}\n".encode())
        return psutil.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, cwd=paths.dir, start_new_session=True,
                            close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_until_answers(proc: psutil.Process, port: int, budget: float) -> bool:
    """Poll until the server answers ping; False once it exits or the budget is spent."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if not _is_running(proc):
            return False
        if _answers(port, PING_TIMEOUT):
            return True
        time.sleep(POLL_INTERVAL)
    return False


def _answers(port: int, timeout: float) -> bool:
    """True when a MongoDB-wire server on the port answers ping within the timeout."""
    try:  # a closed port fails at once instead of after the driver's retry back-off
        socket.create_connection((HOST, port), timeout=min(timeout, 0.2)).close()
    except OSError:
        return False
    ms = int(timeout * 1000)
    client: pymongo.MongoClient[dict] = pymongo.MongoClient(
        _uri(port), serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms,
        appname="dataflow-embedded-probe")
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def _our_processes(paths: _Paths) -> dict[psutil.Process, int]:
    """Every running SecantusDB on our storage folder (whoever started it) and its port."""
    ports = {proc: _served_port(proc.info["cmdline"] or [], paths)
             for proc in psutil.process_iter(["cmdline"])}
    return {proc: port for proc, port in ports.items() if port is not None and _is_running(proc)}


def _served_port(cmdline: list[str], paths: _Paths) -> int | None:
    """The port of a ``python -m secantus ... --storage-path <our db>`` command, else None."""
    options = dict(zip(cmdline, cmdline[1:]))  # each flag -> the word after it
    storage = options.get("--storage-path", "")
    if options.get("-m") != "secantus" or not os.path.isabs(storage):
        return None
    if Path(storage).resolve() != paths.db or not options.get("--port", "").isdigit():
        return None
    return int(options["--port"])


def _is_running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a dead process not yet reaped still has its pid)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _terminate(proc: psutil.Process, timeout: float) -> None:
    """SIGTERM, wait up to the timeout, then SIGKILL; returns once the process is gone."""
    for sig, budget in ((signal.SIGTERM, timeout), (signal.SIGKILL, HUNG_GRACE)):
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
        deadline = time.monotonic() + budget
        while _is_running(proc) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
        if not _is_running(proc):
            return


def _free_port() -> int:  # a port nobody listens on right now (the OS picks it)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _read_state(paths: _Paths) -> dict | None:  # None when missing or unreadable
    try:
        state = json.loads(paths.state.read_text())
        return state if isinstance(state["pid"], int) and isinstance(state["port"], int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(paths: _Paths, pid: int, port: int) -> dict:
    """Write the state file atomically (tmp + rename) so readers never see half of it."""
    state = {"pid": pid, "port": port, "started": _now(), "storage": str(paths.db)}
    tmp = paths.state.with_name(f"{paths.state.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, paths.state)
    return state


def _start_error(paths: _Paths, what: str) -> EmbeddedStoreError:
    """An error carrying the last 20 lines of the server log and how to get going again."""
    try:
        tail = "\n".join(paths.log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        tail = "(no log)"
    return EmbeddedStoreError(f"The embedded MongoDB server (SecantusDB, data in {paths.db}) "
                              f"{what}.\nLast lines of {paths.log}:\n{tail}\n{FIX_HINT}")


def _uri(port: int) -> str:
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
