"""Undo on failure (issue 14 item 4): a plugin's snapshot/rollback called when it fails or
times out and never on success; WRITES undo what it inserted, updated and deleted."""
from __future__ import annotations

import json

from conftest import plugin_source

from dataflow.store.rollback_journal import JOURNAL

UNDO_SCHEMA = {"type": "object", "properties": {
    "fail": {"type": "boolean", "default": False},
    "rollback_breaks": {"type": "boolean", "default": False}}}
SNAPSHOT_CODE = '''
def snapshot(context, config):
    mark("snapshot", context["run_id"])
    return {"taken_in": context["run_id"]}
def rollback(context, config, snapshot):
    if config["rollback_breaks"]:
        raise RuntimeError("rollback broke too")
    mark("rollback", json.dumps(snapshot))
'''
CAREFUL_BODY = '''
tally()
if config["fail"]:
    raise ValueError("run broke on purpose")
return "done"
'''
PIPELINES = """
pipelines:
  fine: {hooks: [only]}
  fails: {hooks: [only], config: {careful: {fail: true}}}
  both_fail: {hooks: [only], config: {careful: {fail: true, rollback_breaks: true}}}
"""


def _task(engine, run_id, task_id):
    engine.project.recorder.flush()          # history is written in the background
    return engine.project.db["tasks"].find_one({"_id": f"{run_id}:{task_id}"})


def test_snapshot_and_rollback_are_called_on_failure_only(make_project, engine_for, out_dir):
    careful = plugin_source("careful", "only", body=CAREFUL_BODY, code=SNAPSHOT_CODE,
                            out=out_dir, imports=["json"], CONFIG_SCHEMA=UNDO_SCHEMA)
    engine = engine_for(make_project(PIPELINES, {"careful": careful}))

    result = engine.run("fine", timeout=120)
    assert result.status == "completed"
    assert out_dir.read("careful", "snapshot") == result.run_id, "snapshot taken before run"
    assert out_dir.read("careful", "rollback") is None, "no rollback on success"

    failed = engine.run("fails", timeout=120)
    task = failed.tasks["only.careful"]
    assert task["status"] == "rolled_back", task
    assert "run broke on purpose" in task["error"] and "rolled back" in task["error"]
    assert json.loads(out_dir.read("careful", "rollback")) == {"taken_in": failed.run_id}
    assert failed.status == "completed_with_errors"
    recorded = _task(engine, failed.run_id, "only.careful")
    assert recorded["status"] == "rolled_back" and recorded["rollback"]["after"] == "failed"

    both = engine.run("both_fail", timeout=120)
    task = both.tasks["only.careful"]
    assert task["status"] == "rollback_failed", task
    assert "run broke on purpose" in task["error"] and "rollback broke too" in task["error"]
    assert out_dir.count("careful") == 3


TIMED_BODY = '''
mark("started")
while not context.cancelled():
    time.sleep(0.05)
return "stopped when asked"
'''


def test_a_plugin_past_its_deadline_is_rolled_back(make_project, engine_for, out_dir):
    slow = plugin_source("slow", "only", body=TIMED_BODY, code=SNAPSHOT_CODE, out=out_dir,
                         imports=["json"], CONFIG_SCHEMA=UNDO_SCHEMA, DEADLINE=1)
    engine = engine_for(make_project("pipelines:\n  slow: {hooks: [only]}\n", {"slow": slow},
                                     system="cluster:\n  cancel_grace_seconds: 0.5\n"))
    result = engine.run("slow", timeout=120)
    task = result.tasks["only.slow"]
    assert task["status"] == "rolled_back", task
    assert "timed_out" in task["error"]
    assert json.loads(out_dir.read("slow", "rollback")) == {"taken_in": result.run_id}


WRITER_BODY = '''
prices = context["services"]["db"]["prices"]
prices.insert_one({"_id": "n", "v": 9})
context.services.db.prices.insert_many([{"v": 10}, {"v": 11}])
prices.update_one({"_id": "a"}, {"$set": {"v": 100}})
prices.update_many({}, {"$inc": {"v": 1}})
prices.delete_one({"_id": "b"})
prices.replace_one({"_id": "z"}, {"v": 5}, upsert=True)
prices.find_one_and_update({"_id": "c"}, {"$set": {"w": 1}})
if config["elsewhere"]:
    context["services"]["db"]["other"].insert_one({"v": 1})
if config["fail"]:
    raise RuntimeError("writer broke after writing")
return prices.count_documents({})
'''
WRITER_SCHEMA = {"type": "object", "properties": {
    "fail": {"type": "boolean", "default": False},
    "elsewhere": {"type": "boolean", "default": False}}}
WRITES_PIPELINES = """
pipelines:
  load: {hooks: [only]}
  broken: {hooks: [only], config: {writer: {fail: true}}}
  stray: {hooks: [only], config: {writer: {elsewhere: true}}}
"""
BEFORE = [{"_id": "a", "v": 1}, {"_id": "b", "v": 2}, {"_id": "c", "v": 3}]


def _prices(engine):
    return sorted(engine.project.store.data_db()["prices"].find(), key=lambda d: str(d["_id"]))


def test_writes_of_a_failed_run_are_undone(make_project, engine_for):
    writer = plugin_source("writer", "only", body=WRITER_BODY, WRITES=["prices"],
                           CONFIG_SCHEMA=WRITER_SCHEMA)
    engine = engine_for(make_project(WRITES_PIPELINES, {"writer": writer}))
    engine.project.store.data_db()["prices"].insert_many([dict(doc) for doc in BEFORE])

    broken = engine.run("broken", timeout=120)
    task = broken.tasks["only.writer"]
    assert task["status"] == "rolled_back", task
    assert "writer broke after writing" in task["error"]
    assert _prices(engine) == BEFORE, "inserts removed, updates and the delete put back"
    # n, the two inserted, a, b and c as they were, z (upserted): 7 documents
    assert task["rollback"]["documents_restored"] == 7
    assert engine.project.db[JOURNAL].count_documents({"run_id": broken.run_id}) == 0

    stray = engine.run("stray", timeout=120)
    task = stray.tasks["only.writer"]
    assert task["status"] == "rolled_back", task
    assert "may not write to 'other'" in task["error"] and "add 'other' to WRITES" in task["error"]
    assert _prices(engine) == BEFORE
    assert engine.project.store.data_db()["other"].count_documents({}) == 0

    loaded = engine.run("load", timeout=120)
    assert loaded.status == "completed" and loaded.output("writer") == 6
    assert {doc["_id"] for doc in _prices(engine)} >= {"a", "c", "n", "z"}, "success kept"
    assert engine.project.db[JOURNAL].count_documents({"run_id": loaded.run_id}) == 0, \
        "the journal is deleted when the run ends"
