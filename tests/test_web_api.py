"""The REST API over real HTTP, on a loopback server with no token: every route of the
route table, the errors each maps (JSON, never HTML), runs triggered, cancelled, resumed
in bulk and compared, paging, /health and /metrics."""
from __future__ import annotations

from conftest import wait_until
from prometheus_client.parser import text_string_to_metric_families
from pymongo.errors import ServerSelectionTimeoutError
from web_fixtures import api  # noqa: F401 (a fixture)

from dataflow.errors import Conflict, DataflowError, StoreUnavailable
from dataflow.statuses import FINAL_RUN_STATUSES, RunStatus, TaskStatus
from dataflow.web.api import route_table

RUN_WAIT = 90


def finished(api, run_id: str) -> dict:
    """The run once it has ended (polled through the API, bounded)."""
    def ended():
        run = api.get(f"/api/runs/{run_id}").json()
        return run if run.get("status") in FINAL_RUN_STATUSES else None
    return wait_until(ended, RUN_WAIT, 0.2, f"run {run_id} to end")


def started(api, pipeline: str, body=None) -> str:
    reply = api.post(f"/api/pipelines/{pipeline}/trigger", body)
    assert reply.status_code == 202, reply.text
    return reply.json()["run_id"]


def refused(reply, status: int, field: str | None = None) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["error"] and "Traceback" not in reply.text
    if field is not None:
        assert field in [entry["field"] for entry in body["fields"]], body
    return body


def test_openapi_describes_every_route(api):
    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for route in route_table():
        operation = document["paths"][route.path][route.method.lower()]
        assert {"405", "500"} <= set(operation["responses"]), route.path
        assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == \
            route.path_params
        if route.method == "POST":
            assert {"415", "422"} <= set(operation["responses"])
    trigger = document["paths"]["/api/pipelines/{name}/trigger"]["post"]
    assert "overrides" in trigger["requestBody"]["content"]["application/json"]["schema"][
        "properties"]


def test_plugin_routes_read_validate_and_version_config(api):
    listed = api.get("/api/plugins").json()
    assert {p["id"] for p in listed["plugins"]} == {"quick", "slow", "flaky"}
    path = "/api/plugins/quick/config?pipeline=quick"
    assert api.get(path).json()["config"] == {"window": 5, "label": "plain"}
    saved = api.post(path, {"window": 7})
    assert saved.status_code == 200 and saved.json()["config"]["window"] == 7
    assert api.get(path).json()["version"] == saved.json()["saved_version"]
    refused(api.post(path, {"window": 0}), 422, "window")
    refused(api.post(path, {"window": 1, "colour": "red"}), 422, "colour")
    refused(api.post(path, [1, 2]), 422)
    refused(api.get("/api/plugins/quick/config"), 422, "pipeline")
    refused(api.get("/api/plugins/nope/config?pipeline=quick"), 404)
    refused(api.get("/api/plugins/quick/config?pipeline=nope"), 404)
    ui = api.get("/api/plugins/quick/config_ui").json()
    assert ui["config_ui"] == {"kind": "schema", "schema": ui["config_schema"]}
    refused(api.post("/api/plugins/slow/cancel"), 409)
    assert api.post(path, {"window": 5}).status_code == 200
    assert {p["name"] for p in api.get("/api/pipelines").json()["pipelines"]} == {
        "quick", "slow", "flaky"}


def test_errors_are_json_and_name_the_problem(api, monkeypatch):
    bad = refused(api.call("POST", "/api/pipelines/quick/trigger", data='{"plugins": [1,}',
                           headers={"Content-Type": "application/json"}), 400)
    assert bad["position"] == 15 and "line 1 column 16" in bad["error"]
    wrong = refused(api.call("DELETE", "/api/runs"), 405)
    assert api.call("DELETE", "/api/runs").headers["Allow"] == "GET" and "GET" in wrong["error"]
    assert api.get("/api/runs/cancel").headers["Allow"] == "POST"
    refused(api.get("/api/no/such/route"), 404)
    refused(api.get("/api/runs/0123456789abcdef"), 404)
    refused(api.get("/api/runs?limit=0"), 422, "limit")
    refused(api.get("/api/runs?since=yesterday"), 422, "since")
    refused(api.get("/api/runs?colour=red"), 422, "colour")
    refused(api.get("/api/runs?before=%%%"), 422, "before")
    refused(api.call("POST", "/api/pipelines/quick/trigger", data={"a": "1"}), 415)
    refused(api.post("/api/pipelines/quick/trigger", headers={
        "Origin": "http://evil.example"}), 403)
    refused(api.get("/api/plugins", headers={"Host": "rebound.example"}), 403)
    refused(api.post("/api/pipelines/nope/trigger"), 404)
    refused(api.post("/api/pipelines/quick/trigger", {"bogus": 1}), 422, "bogus")

    for error, status in ((StoreUnavailable("store down"), 503), (Conflict("busy"), 409),
                          (DataflowError("no"), 400), (ServerSelectionTimeoutError("x"), 503),
                          (RuntimeError("a bug"), 500)):
        monkeypatch.setattr(api.project.config, "describe_config", raising(error))
        refused(api.get("/api/plugins/quick/config?pipeline=quick"), status)
    crashed = api.get("/api/plugins/quick/config?pipeline=quick").json()
    assert crashed == {"error": "internal error", "id": crashed["id"]}


def raising(error):
    def fail(*args, **kwargs):
        raise error
    return fail


def test_trigger_runs_to_completion_and_is_listed(api):
    run_id = started(api, "quick", {"overrides": {"quick": {"window": 3}}})
    run = finished(api, run_id)
    assert run["status"] == RunStatus.COMPLETED and run["trigger"] == "api"
    assert run["tasks"][0]["config"]["window"] == 3 and "traceback" in run["tasks"][0]
    listed = api.get("/api/runs?pipeline=quick&status=completed").json()["runs"]
    assert run_id in [r["_id"] for r in listed] and "tasks" not in listed[0]
    logs = api.get(f"/api/runs/{run_id[:12]}/logs").json()
    assert logs["run_id"] == run_id and isinstance(logs["logs"], list)
    reply = api.post("/api/plugins/quick/trigger?pipeline=quick", {"overrides": {"window": 2}})
    assert reply.status_code == 202, reply.text
    assert finished(api, reply.json()["run_id"])["tasks"][0]["config"]["window"] == 2
    status = api.get("/api/plugins/quick/status").json()
    assert status["last_status"] == TaskStatus.COMPLETED and status["running_in"] == []
    refused(api.post(f"/api/runs/{run_id}/cancel"), 409)


def test_an_override_breaking_the_schema_records_no_run(api):
    before = api.get("/api/runs?pipeline=quick&count=true").json()["total"]
    body = refused(api.post("/api/pipelines/quick/trigger",
                            {"overrides": {"quick": {"window": "many"}}}), 422)
    assert [(f.get("plugin", "quick"), f["field"].split(".")[-1]) for f in body["fields"]] == \
        [("quick", "window")] and "quick" in body["fields"][0].get("plugin", body["error"])
    refused(api.post("/api/pipelines/quick/trigger", {"overrides": {"nope": {}}}), 404)
    refused(api.post("/api/pipelines/quick/trigger", {"overrides": {"quick": 3}}), 422,
            "overrides.quick")
    assert api.get("/api/runs?pipeline=quick&count=true").json()["total"] == before


def slow_run(api) -> str:
    """A run of `slow`, once its plugin has started (it waits for OUT/go or a cancel)."""
    run_id = started(api, "slow")
    wait_until(lambda: api.out.read("slow", "started") == run_id, RUN_WAIT, 0.1, "slow")
    wait_until(lambda: api.get(f"/api/runs/{run_id}").status_code == 200, 10, 0.05)
    return run_id


def test_cancel_long_runs_one_plugin_a_filter_or_one_run_then_resume(api):
    alone = slow_run(api)
    assert api.get("/api/plugins/slow/status").json()["running_in"] == [alone]
    assert api.post("/api/plugins/slow/cancel").json()["cancelled_in"] == [alone]
    run = finished(api, alone)
    assert run["tasks"][0]["status"] == TaskStatus.CANCELLED, run
    matched = slow_run(api)
    refused(api.post("/api/runs/cancel", {"status": "failed"}), 422, "status")
    bulk = api.post("/api/runs/cancel", {"pipeline": "slow", "trigger": "api"}).json()
    assert bulk["cancelled"] == [matched] and bulk["refused"] == []
    assert finished(api, matched)["status"] == RunStatus.CANCELLED
    one = slow_run(api)
    reply = api.post(f"/api/runs/{one[:10]}/cancel")
    assert reply.status_code == 202 and reply.json()["run_id"] == one, reply.text
    assert finished(api, one)["status"] == RunStatus.CANCELLED
    refused(api.post(f"/api/runs/{one}/mark_success"), 422, "plugin")
    refused(api.post(f"/api/runs/{one}/mark_success?plugin=nope"), 404)
    api.out.touch("go")
    again = api.post(f"/api/runs/{one}/resume", {"failed_only": False})
    assert again.status_code == 202 and again.json()["resumed_from"] == one
    assert finished(api, again.json()["run_id"])["status"] == RunStatus.COMPLETED


def test_bulk_resume_of_failed_runs_then_compare(api):
    api.out.touch("broken")
    failed = [started(api, "flaky") for _ in range(2)]
    for run_id in failed:
        assert finished(api, run_id)["status"] == RunStatus.FAILED
    (api.out / "broken").unlink()
    reply = api.post("/api/runs/resume", {"pipeline": "flaky", "limit": 10})
    assert reply.status_code == 200, reply.text
    resumed = {entry["run_id"]: entry["new_run_id"] for entry in reply.json()["resumed"]}
    assert set(resumed) == set(failed)
    for new in resumed.values():
        assert finished(api, new)["status"] == RunStatus.COMPLETED
    wait_until(lambda: api.get(f"/api/runs/{failed[0]}").json().get("resumed_by"), 10)
    assert api.post("/api/runs/resume", {"pipeline": "flaky"}).json()["resumed"] == []
    compared = api.get(f"/api/runs/compare?a={failed[0]}&b={resumed[failed[0]]}").json()
    task = compared["tasks"][0]
    assert task["a"]["status"] == TaskStatus.FAILED and task["b"]["status"] == TaskStatus.COMPLETED
    assert "broken on purpose" in compared["first_error"]["a"]["error"]
    assert compared["first_error"]["b"] is None and compared["config"] == []
    refused(api.get(f"/api/runs/compare?a={failed[0]}"), 422, "b")
    marked = api.post(f"/api/runs/{failed[1]}/mark_success?plugin=flaky")
    assert marked.status_code == 200 and marked.json()["status"] == TaskStatus.COMPLETED


def test_pages_follow_the_cursor(api):
    for _ in range(4 - len(api.get("/api/runs?limit=4").json()["runs"])):
        finished(api, started(api, "quick"))
    first = api.get("/api/runs?limit=2").json()
    second = api.get(f"/api/runs?limit=2&before={first['next']}").json()
    ids = [r["_id"] for r in first["runs"] + second["runs"]]
    assert len(set(ids)) == 4 and first["runs"][0]["started"] >= second["runs"][0]["started"]
    everything = api.get("/api/runs?limit=500&count=1").json()
    assert everything["next"] is None and len(everything["runs"]) == everything["total"]
    assert ids == [r["_id"] for r in everything["runs"][:4]]


def test_health_and_metrics(api):
    health = api.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["store"]["ok"] and health.json()["cluster"]["workers"] == 2
    api.web.extras["health_checks"] = {"disk": lambda: {"ok": False, "free": 0}}
    try:
        unwell = api.get("/health")
        assert unwell.status_code == 503 and unwell.json()["disk"] == {"ok": False, "free": 0}
    finally:
        del api.web.extras["health_checks"]
    finished(api, started(api, "quick"))
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    tasks = {tuple(sorted(s.labels.items())): s.value for s in families["dataflow_tasks"].samples
             if s.name == "dataflow_tasks_total"}
    assert tasks[(("hook", "load"), ("pipeline", "quick"), ("plugin", "quick"),
                  ("status", TaskStatus.COMPLETED))] >= 1
    durations = families["dataflow_task_duration_seconds"].samples
    assert any(s.name.endswith("_count") and s.labels["plugin"] == "quick" for s in durations)
    assert not any("run_id" in s.labels for f in families.values() for s in f.samples)
    assert families["dataflow_cpu_target_ratio"].samples[0].value == 0.8
    assert "dataflow_runs_running" in families and "dataflow_store_up" in families
    runs = wait_until(lambda: [s for s in text_string_to_metric_families(
        api.get("/metrics").text) if s.name == "dataflow_runs"], 10, 0.3, "runs counted")
    assert any(s.labels["pipeline"] == "quick" and s.value >= 1 for s in runs[0].samples)
