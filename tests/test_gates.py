"""Named gates (spec 002) with real parts: opened, closed and listed from the CLI and the
API; a pipeline behind a closed gate is refused (CLI, API, `dataflow run` handed to a
server, the scheduler) naming the gate; a plugin behind one is recorded skipped."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused, store_variables
from prometheus_client import CollectorRegistry
from web_fixtures import serve

from dataflow.run.service import RunService
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.metrics import scheduler_metrics
from dataflow.statuses import RunStatus, TaskStatus

PIPELINES = """
pipelines:
  publish: {hooks: [send], gates: [vendor]%s}
  daily: {hooks: [collect]}
"""


def plugins(out) -> dict[str, str]:
    return {"send": plugin_source("send", "send", pipelines=["publish"], out=out,
                                  body="tally()\nreturn 1"),
            "collect": plugin_source("collect", "collect", pipelines=["daily"], out=out,
                                     body="tally()\nreturn 2"),
            "feed": plugin_source("feed", "collect", pipelines=["daily"], out=out,
                                  body="tally()\nreturn 3", GATES=["market"])}


def test_gates_from_the_cli_refuse_a_run_and_say_which(cli, make_project, out_dir):
    project = make_project(PIPELINES % "", plugins(out_dir))
    listed = json.loads(ok(cli("gate", "list", "--json", project=project)).stdout)["gates"]
    assert [(g["name"], g["open"], g["required_by"]) for g in listed] == [
        ("market", True, ["plugin feed"]), ("vendor", True, ["pipeline publish"])]
    closed = ok(cli("gate", "close", "vendor", "--reason", "feed is late", project=project))
    assert "gate vendor closed" in closed.stdout and "feed is late" in closed.stdout
    refused(cli("run", "publish", "--local", "--force", project=project),
            "pipeline 'publish' not started: gate 'vendor' is closed (feed is late",
            "dataflow gate open vendor")
    assert out_dir.count("send") == 0
    listed = json.loads(ok(cli("gate", "list", "--json", project=project)).stdout)["gates"]
    vendor = next(g for g in listed if g["name"] == "vendor")
    assert not vendor["open"] and vendor["changed_by"].startswith("cli:")
    ok(cli("gate", "open", "vendor", project=project))
    ok(cli("run", "publish", "--local", project=project))
    assert out_dir.count("send") == 1
    refused(cli("gate", "close", "no way", project=project), "not a valid gate name")


def test_a_plugin_behind_a_closed_gate_is_recorded_skipped(make_project, out_dir, engine_for):
    service = RunService(engine_for(make_project(PIPELINES % "", plugins(out_dir))))
    try:
        db = service.project.db
        db["gates"].insert_one({"_id": "market", "open": False, "reason": "halted",
                                     "changed_by": "test"})
        run_id = service.trigger("daily")
        assert service.wait(run_id, RUN_TIMEOUT).status == RunStatus.COMPLETED
        service.project.recorder.flush()
        tasks = {t["plugin"]: t for t in db["tasks"].find({"run_id": run_id})}
        assert tasks["collect"]["status"] == TaskStatus.COMPLETED
        assert tasks["feed"]["status"] == TaskStatus.SKIPPED
        assert tasks["feed"]["error"] == "gate 'market' is closed (halted, closed by test)"
        assert db["runs"].find_one({"_id": run_id})["gated"][0]["gate"] == "market"
        assert (out_dir.count("collect"), out_dir.count("feed")) == (1, 0)
    finally:
        service.shutdown(RUN_TIMEOUT)


def test_the_scheduler_records_a_closed_gate_and_counts_it(make_project, out_dir, engine_for):
    project = make_project(PIPELINES % ", schedule: '*/15 * * * *'", plugins(out_dir))
    service = RunService(engine_for(project))
    service.project.db["gates"].insert_one({"_id": "vendor", "open": False})
    clock = FakeClock(datetime(2026, 5, 4, 10, 7, tzinfo=timezone.utc))
    loop, registry = SchedulerLoop(service, clock), CollectorRegistry()
    scheduler_metrics(registry, loop)
    loop.tick()
    clock.set(datetime(2026, 5, 4, 10, 15, 2, tzinfo=timezone.utc))
    loop.tick()
    service.project.recorder.flush()
    [record] = service.project.db["schedule_fires"].find({"pipeline": "publish"})
    assert (record["outcome"], record["reason"]) == ("refused", "gate 'vendor' is closed")
    assert registry.get_sample_value("dataflow_schedule_fires_total",
                                     {"pipeline": "publish", "outcome": "refused"}) == 1
    service.shutdown(RUN_TIMEOUT)


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory, mongo_uri, dask_client):
    """A `dataflow serve` (in this process) of the gated project; yields (Served, env)."""
    served = serve(tmp_path_factory, mongo_uri, dask_client, "127.0.0.1",
                   pipelines=PIPELINES % "", make_plugins=plugins)
    yield from ((server, store_variables(mongo_uri)) for server in served)


def test_gates_over_the_api_and_a_run_handed_to_the_server(gated_server, cli):
    api, variables = gated_server
    closed = api.post("/api/gates/vendor/close", {"reason": "audit"})
    assert closed.status_code == 200 and closed.json()["open"] is False
    assert closed.json()["required_by"] == ["pipeline publish"]
    refusal = api.post("/api/pipelines/publish/trigger", {"force": True})
    assert refusal.status_code == 409 and "gate 'vendor' is closed (audit" in refusal.json()["error"]
    listed = {g["name"]: g for g in api.get("/api/gates").json()["gates"]}
    assert listed["vendor"]["changed_by"] == "api" and listed["market"]["open"] is True
    refused(cli("run", "publish", project=api.project.directory, env=variables),
            "gate 'vendor' is closed")
    assert api.post("/api/gates/bad name/open").status_code == 422
    assert api.post("/api/gates/vendor/open", {}).json()["open"] is True
    reply = api.post("/api/pipelines/publish/trigger", {})
    assert reply.status_code == 202, reply.text
    assert api.web.service.wait(reply.json()["run_id"], RUN_TIMEOUT).status == RunStatus.COMPLETED
