"""A burst of scheduled fires goes through `RunService.trigger_many` (run/batch_trigger.py):
every run recorded and followed as one started by `trigger` — but one follower thread
for the burst; a broken pipeline or a closed gate in the burst refuses only its own fire.
And the scheduler's metrics, scraped over HTTP from /metrics."""
from __future__ import annotations

import asyncio
import threading

import pytest
import requests
from alert_fixtures import by_level, slack, slack_system  # noqa: F401
from conftest import RUN_TIMEOUT, free_port, plugin_source, wait_until
from prometheus_client.parser import text_string_to_metric_families
from test_scheduler import at, pipelines_yaml, records, scheduled  # noqa: F401
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.web import Application

from dataflow.alerts.metrics import alert_metrics
from dataflow.alerts.service import AlertService
from dataflow.run.service import RunService
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.metrics import scheduler_metrics
from dataflow.statuses import RunStatus
from dataflow.store.gates import set_gate
from dataflow.web.api import api_routes
from dataflow.web.context import WebContext
from dataflow.web.metrics import metrics_for

BURST = 24
EVERY_15 = {"schedule": "*/15 * * * *"}


def _threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_a_burst_is_started_together_and_followed_by_one_thread(scheduled, out_dir):
    entries = {f"p{n:02d}": EVERY_15 for n in range(BURST)}
    entries.update(broken=EVERY_15, gated={**EVERY_15, "gates": ["market"]})
    yaml = pipelines_yaml(**entries).replace("  broken:\n    hooks: [work]",
                                             "  broken:\n    hooks: [nobody_runs_this]")
    service = scheduled(yaml)
    set_gate(service.project.db, "market", False, "test", "closed for the test")
    out_dir.touch("hold")
    loop = SchedulerLoop(service, FakeClock(at(2026, 5, 4, 10, 14)))
    loop.tick()
    loop.clock.set(at(2026, 5, 4, 10, 15))
    loop.tick()
    fired = {r["pipeline"]: r for r in records(service)}
    started = [name for name, r in fired.items() if r["outcome"] == "started"]
    assert sorted(started) == [f"p{n:02d}" for n in range(BURST)]
    assert fired["broken"]["outcome"] == "skipped"
    assert "nobody_runs_this" in fired["broken"]["reason"]
    assert fired["gated"]["outcome"] == "refused" and "market" in fired["gated"]["reason"]
    assert len(service.active()) == BURST
    assert _threads("dataflow-run-") == [] and len(_threads("dataflow-runs-")) == 1
    assert len(_threads("dataflow-finisher-")) <= 4
    run_ids = [fired[name]["run_id"] for name in started]
    assert len(set(run_ids)) == BURST and {r["submitted"] for r in fired.values()
                                           if r["outcome"] == "started"} == {loop.clock.now()}
    service.cancel(run_ids[-1])
    assert service.wait(run_ids[-1], RUN_TIMEOUT).status == RunStatus.CANCELLED
    out_dir.touch("go")
    for run_id in run_ids[:-1]:
        assert service.wait(run_id, RUN_TIMEOUT).status == RunStatus.COMPLETED
    service.project.recorder.flush()
    runs = {run["_id"]: run for run in service.project.db["runs"].find({"_id": {"$in": run_ids}})}
    assert all(run["trigger"] == "schedule" and run["logical_time"] == at(2026, 5, 4, 10, 15)
               for run in runs.values())
    assert service.project.db["tasks"].count_documents({"run_id": {"$in": run_ids}}) == BURST
    wait_until(lambda: not _threads("dataflow-runs-"), 30, 0.1, "the follower to end")


def _serve_metrics(web: WebContext) -> tuple[str, IOLoop]:
    """/metrics and the rest of the API on a real HTTP port (no Panel pages)."""
    started: list = []
    port = web.port

    def run():
        asyncio.set_event_loop(asyncio.new_event_loop())
        HTTPServer(Application(api_routes(web))).listen(port, "127.0.0.1")
        started.append(IOLoop.current())
        IOLoop.current().start()
    threading.Thread(target=run, daemon=True, name="test-metrics-http").start()
    wait_until(lambda: started, 30, 0.05, "the HTTP server")
    return f"http://127.0.0.1:{port}", started[0]


def _samples(url: str) -> dict:
    text = requests.get(url + "/metrics", timeout=30).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_scheduler_and_alert_metrics_are_scraped_over_http(make_project, engine_for, out_dir,
                                                          slack):
    body = "if os.path.exists(os.path.join(OUT, 'broken')):\n    raise RuntimeError('bad feed')"
    project = make_project(
        pipelines_yaml(prices={**EVERY_15, "overlap": "skip", "max_active_runs": 1},
                       gated={**EVERY_15, "gates": ["market"]}),
        {"work": plugin_source("work", ["work"], out=out_dir, body=body + "\nreturn 1")},
        system=slack_system(slack.url))
    engine = engine_for(project)
    service, alerts = RunService(engine), AlertService.attach(engine)
    web = WebContext(service, "127.0.0.1", free_port())
    loop = SchedulerLoop(service, FakeClock(at(2026, 5, 4, 10, 14)))
    registry = metrics_for(web).registry
    scheduler_metrics(registry, loop)
    alert_metrics(registry, alerts.dispatcher)
    url, http_loop = _serve_metrics(web)
    try:
        set_gate(service.project.db, "market", False, "test", "closed")
        out_dir.touch("broken")
        loop.tick()
        for minute in (15, 30):
            loop.clock.set(at(2026, 5, 4, 10, minute))
            loop.tick()
        fires = records(service, "prices")
        assert [r["outcome"] for r in fires][:1] == ["started"]
        service.wait(fires[0]["run_id"], RUN_TIMEOUT)
        wait_until(lambda: by_level(slack.posts, "ERROR"), 60, 0.1, "the Slack post")
        assert alerts.dispatcher.flush(15)
        samples = _samples(url)
    finally:
        http_loop.add_callback(http_loop.stop)
        service.shutdown(RUN_TIMEOUT)
        alerts.stop(5)

    def fires_of(pipeline: str, outcome: str) -> float:
        key = ("dataflow_schedule_fires_total", (("outcome", outcome), ("pipeline", pipeline)))
        return samples.get(key, 0)
    assert fires_of("prices", "started") >= 1 and fires_of("gated", "refused") == 2
    assert sum(fires_of("prices", o) for o in ("started", "skipped")) == 2
    assert samples[("dataflow_schedule_submit_lag_seconds_count", ())] >= 1
    assert samples[("dataflow_schedule_start_lag_seconds_count", ())] >= 1
    assert samples[("dataflow_scheduler_last_tick_timestamp_seconds", ())] == pytest.approx(
        at(2026, 5, 4, 10, 30).timestamp())
    assert samples[("dataflow_scheduler_lease_held", (("holder", loop.holder),))] == 1
    assert samples[("dataflow_alerts_sent_total", ())] >= 1
    assert ("dataflow_alerts_failed_total", ()) in samples
