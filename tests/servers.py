"""The real servers the tests use, as plain functions (conftest.py makes fixtures of them):
a SecantusDB server started for the session, or any MongoDB the caller names."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pymongo


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")


def answering_client(uri: str, timeout: float = 30.0) -> pymongo.MongoClient:
    """A client of the MongoDB at `uri`, once it answers a ping (fails after `timeout`)."""
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)

    def answers():
        try:
            return client.admin.command("ping")
        except pymongo.errors.PyMongoError:
            return None
    wait_until(answers, timeout, 0.1, f"MongoDB at {uri.split('@')[-1]} to answer")
    return client


@contextmanager
def secantus_server(folder: Path):
    """A SecantusDB server storing under `folder` (log: folder/server.log); yields its URI."""
    port = free_port()
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(folder / "db")], stdout=log, stderr=subprocess.STDOUT)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            answering_client(uri).close()
            yield uri
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:      # a loaded machine: do not leave it behind
                process.kill()
                process.wait(10)


def drop_databases(client: pymongo.MongoClient, prefix: str) -> None:
    """Best effort: drop every database whose name starts with `prefix`."""
    try:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
    except pymongo.errors.PyMongoError as error:
        print(f"\ncould not drop the test databases {prefix}*: {error}")
