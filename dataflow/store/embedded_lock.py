"""The lock starters of the embedded server take, which says who holds it.

An flock on ``server.lock`` serialises the processes that check, start or stop the server.
The holder writes its pid, command line and the time into the file, so a process that
waits in vain can say who blocks it and how to clear that."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from typing import IO

import psutil

from dataflow.errors import EmbeddedStoreError
from dataflow.store.embedded_process import POLL_INTERVAL, ServerPaths, now

COMMAND_CHARS = 200  # of the holder's command line, in the message


@contextlib.contextmanager
def locked(paths: ServerPaths, wait: float) -> Iterator[None]:
    """Hold an exclusive flock so only one process checks, starts or stops the server;
    an EmbeddedStoreError naming the holder after `wait` seconds."""
    paths.dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(paths.lock, "a+") as handle:
        while True:
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            if time.monotonic() > deadline:
                raise lock_held_error(paths, wait)
            time.sleep(POLL_INTERVAL)
        try:
            _write_holder(handle)
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_holder(handle: IO[str]) -> None:
    """Say who holds the lock (best effort: the lock works without it)."""
    try:
        command = " ".join(psutil.Process().cmdline())
    except psutil.Error:
        command = "?"
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": now()}))
        handle.flush()


def read_holder(paths: ServerPaths) -> dict | None:
    """What the holder wrote into the lock file, or None when empty or unreadable."""
    try:
        holder = json.loads(paths.lock.read_text() or "null")
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def lock_held_error(paths: ServerPaths, waited: float) -> EmbeddedStoreError:
    """Who holds the lock, whether it still runs, and how to clear it."""
    holder = read_holder(paths)
    if holder is None:
        who = "another process (it did not say which)"
        fix = (f"wait for it, or find it with `fuser {paths.lock}`; if no process holds it, "
               f"delete {paths.lock}")
    else:
        pid, command = holder["pid"], str(holder.get("command", "?"))[:COMMAND_CHARS]
        who = f"pid {pid} ({command}) since {holder.get('since', '?')}"
        if psutil.pid_exists(pid):
            fix = (f"that process is still running: wait for it, or stop it (`kill {pid}`) if "
                   f"it is stuck; if that process is gone, delete {paths.lock}")
        else:
            fix = f"that process is gone: delete {paths.lock} and retry"
    return EmbeddedStoreError(
        f"The embedded store's lock {paths.lock} is held by {who}: it is starting, checking "
        f"or stopping the server, and did not finish within {waited:g} s. Fix: {fix}.")
