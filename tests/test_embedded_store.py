"""The embedded SecantusDB server: start, reuse, restart and stale-state recovery, for real.

Every wait is bounded; every test stops the servers it started (fixture teardown)."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pymongo
import pytest
from conftest import free_port, wait_until
from pymongo.write_concern import WriteConcern

from dataflow.store.embedded import (
    EmbeddedStoreError,
    embedded_server_info,
    ensure_embedded_server,
    stop_embedded_server,
)

STARTERS = 4
CHILD_STARTER = """
import sys, time
from pathlib import Path
from dataflow.store.embedded import ensure_embedded_server
go = Path(sys.argv[2])
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:  # start all starters together
    time.sleep(0.01)
print(ensure_embedded_server(Path(sys.argv[1])))
"""


@pytest.fixture
def state_dir(tmp_path):
    """A project state folder; afterwards no server may be left on it."""
    folder = tmp_path / "dataflow-test" / ".dataflow"
    try:
        yield folder
    finally:
        stop_embedded_server(folder)
        leftovers = _servers_on(folder)
        for proc in leftovers:  # safety net: never leave a server behind
            proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        assert not leftovers, "stop_embedded_server left a server running"


def _servers_on(folder: Path) -> list[psutil.Process]:
    """SecantusDB processes whose storage lies in this folder."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "secantus" in cmdline and str((folder / "db").resolve()) in cmdline:
            found.append(proc)
    return found


def _client(uri: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)


def _state(folder: Path) -> dict:
    return json.loads((folder / "server.json").read_text())


def _gone(pid: int) -> bool:
    """The process is gone or a zombie."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    wait_until(lambda: _gone(pid), timeout, message=f"process {pid} to end")


def _dead_pid() -> int:
    """The pid of a process that has already exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_start_write_and_read(state_dir):
    uri = ensure_embedded_server(state_dir)
    assert uri.startswith("mongodb://127.0.0.1:") and uri.endswith("/?directConnection=true")
    with _client(uri) as client:
        client.dataflow_test.items.insert_one({"_id": "a", "value": 42})
        assert client.dataflow_test.items.find_one({"_id": "a"})["value"] == 42
    state = _state(state_dir)
    assert set(state) == {"pid", "port", "started", "storage"}
    assert state["storage"] == str((state_dir / "db").resolve())
    assert (state_dir / "server.log").read_text().strip()
    assert embedded_server_info(state_dir)["uri"] == uri


def test_second_call_reuses_the_server(state_dir):
    uri = ensure_embedded_server(state_dir)
    first = _state(state_dir)
    started = time.perf_counter()
    assert ensure_embedded_server(state_dir) == uri
    assert time.perf_counter() - started < 1.0
    assert _state(state_dir) == first
    assert [proc.pid for proc in _servers_on(state_dir)] == [first["pid"]]


def test_data_survives_stop_and_start(state_dir):
    with _client(ensure_embedded_server(state_dir)) as client:
        client.dataflow_test.items.insert_one({"_id": "kept"})
    old_pid = _state(state_dir)["pid"]
    assert stop_embedded_server(state_dir) is True
    assert not (state_dir / "server.json").exists()
    assert embedded_server_info(state_dir) is None
    assert not _servers_on(state_dir)
    assert stop_embedded_server(state_dir) is False
    with _client(ensure_embedded_server(state_dir)) as client:
        assert client.dataflow_test.items.find_one({"_id": "kept"}) == {"_id": "kept"}
    assert _state(state_dir)["pid"] != old_pid


@pytest.mark.parametrize("stale_pid", ["dead", "not_secantus"])
def test_stale_state_file_is_replaced(state_dir, stale_pid):
    pid = _dead_pid() if stale_pid == "dead" else os.getpid()
    state_dir.mkdir(parents=True)
    stale = {"pid": pid, "port": free_port(), "started": "2000-01-01T00:00:00+00:00",
             "storage": str(state_dir / "db")}
    (state_dir / "server.json").write_text(json.dumps(stale))
    assert embedded_server_info(state_dir) is None
    uri = ensure_embedded_server(state_dir)
    state = _state(state_dir)
    assert state["pid"] != pid
    assert state["port"] == stale["port"]  # the previous port, free: clients that know it reconnect
    assert psutil.pid_exists(os.getpid())  # the unrelated process was left alone
    with _client(uri) as client:
        assert client.admin.command("ping")["ok"] == 1


def test_unreadable_state_file_is_replaced(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "server.json").write_text("{not json")
    uri = ensure_embedded_server(state_dir)
    assert _state(state_dir)["port"] == int(uri.split(":")[2].split("/")[0])


def test_concurrent_starters_share_one_server(state_dir):
    go = state_dir.parent / "go"
    go.parent.mkdir(parents=True)
    starters = [
        subprocess.Popen([sys.executable, "-c", CHILD_STARTER, str(state_dir), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(STARTERS)
    ]
    try:
        go.touch()
        results = [proc.communicate(timeout=120) for proc in starters]
    finally:
        for proc in starters:  # a starter must not outlive a failed test
            proc.kill()
            proc.wait(timeout=10)
    assert [proc.returncode for proc in starters] == [0] * STARTERS, results
    uris = {out.strip() for out, _err in results}
    assert len(uris) == 1, results
    servers = _servers_on(state_dir)
    assert [proc.pid for proc in servers] == [_state(state_dir)["pid"]]
    assert "Device or resource busy" not in (state_dir / "server.log").read_text()
    assert ensure_embedded_server(state_dir) in uris


def test_killed_server_is_replaced(state_dir):
    with _client(ensure_embedded_server(state_dir)) as client:
        # j=True: acknowledged only once on disk (without it a write from the last ~50 ms is
        # lost to SIGKILL, as with mongod's default j:false).
        items = client.dataflow_test.get_collection("items", write_concern=WriteConcern(j=True))
        items.insert_one({"_id": "before-kill"})
    old = _state(state_dir)
    os.kill(old["pid"], signal.SIGKILL)
    _wait_gone(old["pid"])
    assert embedded_server_info(state_dir) is None
    uri = ensure_embedded_server(state_dir)
    assert _state(state_dir)["pid"] != old["pid"]
    with _client(uri) as client:
        assert client.dataflow_test.items.find_one({"_id": "before-kill"})


def test_hung_server_of_ours_is_reported_not_replaced(state_dir):
    uri = ensure_embedded_server(state_dir)
    hung = _state(state_dir)
    os.kill(hung["pid"], signal.SIGSTOP)  # alive, ours, holds the folder, answers nothing
    try:
        with pytest.raises(EmbeddedStoreError) as caught:
            ensure_embedded_server(state_dir, timeout=3)
    finally:
        os.kill(hung["pid"], signal.SIGCONT)
    message = str(caught.value)
    assert f"pid {hung['pid']}" in message and "did not answer within 3 s" in message
    assert "not replaced" in message and f"kill {hung['pid']}" in message
    assert [proc.pid for proc in _servers_on(state_dir)] == [hung["pid"]]  # no second one
    assert ensure_embedded_server(state_dir) == uri  # resumed: the same server again
    assert _state(state_dir) == hung


def test_running_server_without_state_file_is_adopted(state_dir):
    uri = ensure_embedded_server(state_dir)
    pid = _state(state_dir)["pid"]
    (state_dir / "server.json").unlink()
    assert ensure_embedded_server(state_dir) == uri
    assert _state(state_dir)["pid"] == pid
    assert len(_servers_on(state_dir)) == 1


def test_error_explains_when_the_server_cannot_start(state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / "db").write_text("a file where the data folder should be")
    with pytest.raises(EmbeddedStoreError) as caught:
        ensure_embedded_server(state_dir, timeout=20)
    message = str(caught.value)
    assert "exited with code" in message
    assert "FileExistsError" in message  # the server log's tail
    assert "DATAFLOW_MONGO_URI" in message
    assert not (state_dir / "server.json").exists()
    assert not _servers_on(state_dir)
