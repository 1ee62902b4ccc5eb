"""Store faults (issue 12, items 1, 3 and 4): an oversized record never stops history, a slow
embedded server is waited for and never replaced, a held lock names its holder.
Item 2 (the store restarted under a run) is in test_store_faults_restart.py."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pymongo
import pytest
from conftest import new_database_name, ok, plugin_source, run_cli, wait_until

from dataflow.errors import EmbeddedStoreError
from dataflow.store.bounds import FIELD_LIMIT, SHRUNK_LIMIT, cut_text
from dataflow.store.embedded import ensure_embedded_server, stop_embedded_server
from dataflow.store.connection import StoreAddress
from dataflow.store.recorder import Recorder
from dataflow.worker.db_retry import retrying_database

BIG = 9_000_000
LOUD = 17_000_000
ONE = "pipelines:\n  p:\n    hooks: [load]\n"
NO_STORE = {"DATAFLOW_MONGO_URI": "", "DATAFLOW_SCHEDULER": ""}
HOLDER = """
import sys, time
from pathlib import Path
from dataflow.store.embedded_lock import locked
from dataflow.store.embedded_process import ServerPaths
with locked(ServerPaths(Path(sys.argv[1])), 30):
    print("held", flush=True)
    time.sleep(300)
"""


@pytest.fixture
def db(mongo_uri):
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000)
    name = new_database_name()
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def recorder(db):
    writer = Recorder(db)
    yield writer
    writer.close()


# --- item 1: one oversized record stops all history -----------------------------------------

@pytest.mark.fast
def test_cut_text_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "a" * 100 + "b" * 100 + "END"
    cut = cut_text(text, 40, "; see x")
    assert cut.startswith("a" * 30) and cut.endswith("bEND"[-10:]) and "[cut 163 characters; see x]" in cut
    assert cut_text("short", 40) == "short"


def test_an_oversized_error_is_stored_cut_and_history_goes_on(db, recorder):
    recorder.record("tasks", "r1:load.big", {"status": "failed", "error": "y" * BIG,
                                            "traceback": "Traceback\n" + "y" * BIG})
    recorder.append("logs", "r1:0000001", {"run_id": "r1", "seq": 1, "message": "z" * LOUD})
    recorder.record("runs", "r1", {"status": "failed"})
    assert recorder.flush(60)
    task = db.tasks.find_one({"_id": "r1:load.big"})
    assert task["status"] == "failed"
    assert len(task["error"]) < FIELD_LIMIT + 200
    assert f"[cut {BIG - FIELD_LIMIT:,} characters; full text in logs/r1.log]" in task["error"]
    assert task["traceback"].startswith("Traceback\n")
    assert "[cut" in db.logs.find_one({"_id": "r1:0000001"})["message"]
    assert db.runs.find_one({"_id": "r1"})["status"] == "failed"


def test_a_document_the_store_rejects_is_cut_once_never_retried_as_is(db, recorder, caplog):
    many = {f"field{i}": "x" * (FIELD_LIMIT - 1) for i in range(300)}  # ~19 MB in all
    with caplog.at_level(logging.WARNING, logger="dataflow.recorder"):
        recorder.record("tasks", "r2:a", {"status": "running"})
        recorder.record("tasks", "r2:wide", {"status": "failed", **many})
        recorder.record("tasks", "r2:b", {"status": "completed"})
        assert recorder.flush(60)
    wide = db.tasks.find_one({"_id": "r2:wide"})
    assert wide["status"] == "failed" and len(wide["field7"]) < SHRUNK_LIMIT + 200
    assert {d["_id"]: d["status"] for d in db.tasks.find({"_id": {"$in": ["r2:a", "r2:b"]}})} \
        == {"r2:a": "running", "r2:b": "completed"}      # the operations around it were written
    rejected = [r.getMessage() for r in caplog.records if "rejected document 'r2:wide'" in r.getMessage()]
    assert len(rejected) == 1 and len(rejected[0]) < 1000, rejected


def test_a_document_that_cannot_be_stored_is_dropped_alone(db, recorder, caplog):
    with caplog.at_level(logging.WARNING, logger="dataflow.recorder"):
        recorder.append("logs", "r3:1", {"run_id": "r3", "message": "kept before"})
        recorder.append("logs", "r3:2", {"run_id": "r3", "message": object()})
        recorder.append("logs", "r3:3", {"run_id": "r3", "message": "kept after"})
        assert recorder.flush(60)
    assert sorted(d["_id"] for d in db.logs.find()) == ["r3:1", "r3:3"]
    assert any("'r3:2'" in r.getMessage() and "dropped" in r.getMessage() for r in caplog.records)
    recorder.record("runs", "r3", {"status": "completed"})   # the writer goes on
    assert recorder.flush(60) and db.runs.find_one({"_id": "r3"})["status"] == "completed"


def test_a_plugin_with_a_huge_error_or_log_message_ends_its_run(make_project, cli):
    project = make_project(ONE, {
        "big": plugin_source("big", "load", body=f'raise ValueError("y" * {BIG})'),
        "loud": plugin_source("loud", "load", body=f'context["services"]["log"].info("z" * {LOUD})')})
    started = time.monotonic()
    result = cli("run", "p", "--local", project=project, timeout=240)
    elapsed = time.monotonic() - started
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stdout) + len(result.stderr) < 100_000, \
        (len(result.stdout), result.stdout[:2000], result.stderr[:3000])
    assert "completed_with_errors" in result.stdout and "[cut " in result.stdout
    assert elapsed < 90, elapsed
    run = json.loads(ok(cli("runs", "--json", project=project)).stdout)[0]
    assert run["status"] == "completed_with_errors"
    shown = json.loads(ok(cli("show", run["_id"], "--json", project=project)).stdout)
    error = next(t["error"] for t in shown["tasks"] if t["plugin"] == "big")
    assert "ValueError: yyy" in error and "characters; full text in logs/" in error
    assert len(error) < FIELD_LIMIT + 200
    log_file = (project / "logs" / f"{run['_id']}.log").read_text()
    assert "z" * LOUD in log_file and "y" * BIG in log_file      # the full texts are kept there


def test_the_db_service_retries_on_autoreconnect_only(mongo_uri):
    address = StoreAddress(mongo_uri, new_database_name())
    items = retrying_database(address)["items"]
    items.insert_one({"_id": 1})
    started = time.monotonic()
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        items.insert_one({"_id": 1})          # the plugin's own error: at once, not retried
    assert time.monotonic() - started < 5
    assert items.find_one({"_id": 1}) == {"_id": 1}
    address.client().drop_database(address.data_database)


# --- item 3: a slow store is not replaced ---------------------------------------------------

@pytest.fixture
def state_dir(tmp_path):
    folder = tmp_path / "project" / ".dataflow"
    yield folder
    stop_embedded_server(folder)


def _secantus_on(folder) -> list[int]:
    db = str((folder / "db").resolve())
    return [proc.pid for proc in psutil.process_iter(["cmdline"])
            if "secantus" in (proc.info["cmdline"] or []) and db in (proc.info["cmdline"] or [])]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_paused_server_is_waited_for_not_replaced(make_project, state_dir):
    project = make_project(ONE)
    ensure_embedded_server(state_dir)
    pid = json.loads((state_dir / "server.json").read_text())["pid"]
    os.kill(pid, signal.SIGSTOP)              # a GC pause, a busy disk: alive, silent
    resume = threading.Timer(8.0, os.kill, (pid, signal.SIGCONT))  # beyond a 5 s grace
    resume.start()
    try:
        started = time.monotonic()
        status = ok(run_cli("db", "status", project=project, env=NO_STORE, timeout=120))
        assert time.monotonic() - started >= 6.0
    finally:
        resume.join()
    assert f"pid {pid}," in status.stdout
    assert _secantus_on(state_dir) == [pid]   # no second server under the first one's users


def test_a_restarted_server_comes_back_on_its_previous_port(state_dir):
    uri = ensure_embedded_server(state_dir)
    old = json.loads((state_dir / "server.json").read_text())
    os.kill(old["pid"], signal.SIGKILL)
    wait_until(lambda: _gone(old["pid"]), 20)
    assert ensure_embedded_server(state_dir) == uri           # the same address
    assert json.loads((state_dir / "server.json").read_text())["pid"] != old["pid"]
    stop_embedded_server(state_dir)
    assert ensure_embedded_server(state_dir) == uri           # after a stop too


# --- item 4: a held lock names its holder ---------------------------------------------------

@pytest.fixture
def lock_holder(state_dir):
    state_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(30)


def test_a_held_lock_names_its_holder_and_the_fix(state_dir, lock_holder):
    started = time.monotonic()
    with pytest.raises(EmbeddedStoreError) as caught:
        ensure_embedded_server(state_dir, timeout=3)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    lock = state_dir.resolve() / "server.lock"
    assert f"held by pid {lock_holder.pid} (" in message and "embedded_lock import locked" in message
    assert f"kill {lock_holder.pid}" in message and f"delete {lock}" in message
    assert "did not finish within 3 s" in message


def test_the_cli_reports_a_held_lock_within_the_start_timeout(make_project, lock_holder):
    project = make_project(ONE)
    started = time.monotonic()
    result = run_cli("runs", project=project, env=NO_STORE, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 5 and "Traceback" not in result.stderr, result.stderr
    assert f"held by pid {lock_holder.pid}" in result.stderr
    assert "delete " in result.stderr and "server.lock" in result.stderr
    assert elapsed < 45, elapsed      # the start timeout (20 s), not 50 s
