"""Atomic pipelines (issue 14 item 5): a fail-hard failure at hook 3 rolls back what hooks
1 and 2 completed, latest hook first, so their collections are exactly as before the run."""
from __future__ import annotations

import json

from conftest import plugin_source
from prometheus_client import CollectorRegistry, generate_latest

from dataflow.run.rollback_metrics import RollbackCollector, rollback_counts

PIPELINES = """
pipelines:
  all_or_nothing:
    atomic: true
    hooks: [load, derive, check]
  best_effort:
    hooks: [load, derive, check]
"""
# hook 1: writes through the db service, declared (journaled)
LOADER = '''
prices = context["services"]["db"]["prices"]
prices.insert_many([{"_id": "new1", "v": 1}, {"_id": "new2", "v": 2}])
prices.update_one({"_id": "old1"}, {"$set": {"v": 100}})
prices.delete_one({"_id": "old2"})
return "loaded"
'''
# hook 2: a plugin undoing itself with snapshot/rollback (its writes are not journaled)
TAGGER_CODE = '''
def snapshot(context, config):
    return list(context["services"]["db"]["tags"].find())
def rollback(context, config, snapshot):
    tags = context["services"]["db"]["tags"]
    tags.delete_many({})
    if snapshot:
        tags.insert_many(snapshot)
'''
TAGGER = '''
tags = context["services"]["db"]["tags"]
tags.insert_one({"_id": "fresh", "tag": "new"})
tags.update_one({"_id": "t1"}, {"$set": {"tag": "changed"}})
return "tagged"
'''
# hook 2, too: declared writes, replaced documents
SUMMARY = '''
context["services"]["db"]["summary"].replace_one({"_id": "latest"}, {"total": 3}, upsert=True)
return "summarised"
'''
CHECKER = '''
raise RuntimeError("check failed: the data is wrong")
'''
BEFORE = {"prices": [{"_id": "old1", "v": 1}, {"_id": "old2", "v": 2}],
          "tags": [{"_id": "t1", "tag": "original"}],
          "summary": [{"_id": "latest", "total": 1}]}


def _project(make_project):
    return make_project(PIPELINES, {
        "loader": plugin_source("loader", "load", body=LOADER, WRITES=["prices"]),
        "tagger": plugin_source("tagger", "derive", body=TAGGER, code=TAGGER_CODE),
        "summary": plugin_source("summary", "derive", body=SUMMARY, WRITES=["summary"]),
        "checker": plugin_source("checker", "check", body=CHECKER, FAIL_HARD=True)})


def _collections(engine) -> dict:
    data = engine.project.store.data_db()
    return {name: sorted(data[name].find(), key=lambda doc: str(doc["_id"]))
            for name in BEFORE}


def _seed(engine) -> None:
    data = engine.project.store.data_db()
    for name, docs in BEFORE.items():
        data[name].delete_many({})
        data[name].insert_many([dict(doc) for doc in docs])


def test_atomic_run_failing_at_hook_3_leaves_the_database_as_before(make_project, engine_for):
    engine = engine_for(_project(make_project))
    _seed(engine)
    counted = rollback_counts().get(("all_or_nothing", "rolled_back"), 0)

    result = engine.run("all_or_nothing", timeout=180)

    assert result.status == "failed"
    assert _collections(engine) == BEFORE, "hooks 1-2's writes all undone"
    statuses = {task_id: task["status"] for task_id, task in result.tasks.items()}
    assert statuses == {"load.loader": "rolled_back", "derive.tagger": "rolled_back",
                        "derive.summary": "rolled_back", "check.checker": "failed"}
    engine.project.recorder.flush()
    run = engine.project.db["runs"].find_one({"_id": result.run_id})
    assert run["status"] == "failed"
    assert set(run["rolled_back"]) == {"derive.tagger", "derive.summary", "load.loader"}
    assert run["rolled_back"][-1] == "load.loader", "latest hook first"
    assert "check failed" in run["error"], "the run's error is still the failure"
    loader = engine.project.db["tasks"].find_one({"_id": f"{result.run_id}:load.loader"})
    assert loader["status"] == "rolled_back" and loader["rollback"]["by"] == "atomic run"
    assert rollback_counts()[("all_or_nothing", "rolled_back")] == counted + 3
    registry = CollectorRegistry()
    registry.register(RollbackCollector())
    text = generate_latest(registry).decode()
    assert 'rollback_operations_total{outcome="rolled_back",pipeline="all_or_nothing"}' \
        in text


def test_the_same_failure_without_atomic_keeps_what_completed(make_project, engine_for):
    engine = engine_for(_project(make_project))
    _seed(engine)
    result = engine.run("best_effort", timeout=180)
    assert result.status == "failed"
    assert result.tasks["load.loader"]["status"] == "completed"
    after = _collections(engine)
    assert {doc["_id"] for doc in after["prices"]} == {"old1", "new1", "new2"}
    assert after["tags"] != BEFORE["tags"] and after["summary"] == [{"_id": "latest", "total": 3}]


def test_the_cli_reports_an_atomic_run_rolled_back(make_project, cli, store_env):
    project = _project(make_project)
    done = cli("run", "all_or_nothing", "--json", project=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    shown = cli("show", run_id[:12], "--json", project=project)
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["status"] == "failed" and run["rolled_back"][-1] == "load.loader"
    assert {task["plugin"]: task["status"] for task in run["tasks"]} == {
        "loader": "rolled_back", "tagger": "rolled_back", "summary": "rolled_back",
        "checker": "failed"}
    text = cli("show", run_id[:12], project=project).stdout
    assert "rolled_back" in text
