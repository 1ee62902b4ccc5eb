"""Pipeline dependencies (spec 003) with real parts: the graph and its validation, a
stale upstream refused (or waited for) with the reason recorded, --force, --with-upstream
as one Dask graph, `schedule: on_upstream`, and `dataflow graph`."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused, wait_until
from prometheus_client import CollectorRegistry

from dataflow.config.dependencies import find_cycle, layers, upstream_chain
from dataflow.config.pipelines import Pipeline
from dataflow.errors import PreconditionUnmet
from dataflow.run.preconditions import check_preconditions
from dataflow.run.service import RunService
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.metrics import scheduler_metrics
from dataflow.statuses import RunStatus, TaskStatus

UTC = timezone.utc
PIPELINES = """
pipelines:
  ingest: {{hooks: [fetch], provides: [prices]}}
  report: {{hooks: [build], requires: [prices], max_data_age: 1h{report}}}
  weekly: {{hooks: [summarise], depends_on: [report]}}
"""


def project_with(make_project, out_dir, report: str = "") -> object:
    return make_project(PIPELINES.format(report=report), {
        name: plugin_source(name, hook, pipelines=[pipeline], out=out_dir,
                            body=f"tally(context.run_id)\nreturn {name!r}")
        for name, hook, pipeline in (("fetch", "fetch", "ingest"), ("build", "build", "report"),
                                     ("summarise", "summarise", "weekly"))})


@pytest.fixture
def service_for(make_project, out_dir, engine_for):
    services = []

    def build(report: str = "") -> RunService:
        services.append(RunService(engine_for(project_with(make_project, out_dir, report))))
        return services[-1]
    yield build
    for service in services:
        service.shutdown(RUN_TIMEOUT)


def completed(service: RunService, run_id: str) -> dict:
    assert service.wait(run_id, RUN_TIMEOUT).status == RunStatus.COMPLETED
    service.project.recorder.flush()
    return service.project.db["runs"].find_one({"_id": run_id})


def named(name: str, **keys) -> Pipeline:
    return Pipeline(name=name, hooks=("h",), **keys)


@pytest.mark.fast
def test_the_graph_orders_chains_and_finds_cycles():
    pipelines = {"a": named("a", provides=("x",)), "b": named("b", requires=("x",)),
                 "c": named("c", depends_on=("b", "a"))}
    assert upstream_chain(pipelines, "c") == ["a", "b"]
    assert layers({"a": [], "b": ["a"], "c": ["b", "a"]}) == {"a": 0, "b": 1, "c": 2}
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


def test_validate_reports_cycles_and_unknown_names_with_file_and_key(cli, make_project):
    project = make_project("""
        pipelines:
          a: {hooks: [h], depends_on: [b]}
          b: {hooks: [h], depends_on: [a], requires: [price]}
          c: {hooks: [h], depends_on: [reprot], provides: [prices]}
          report: {hooks: [h], schedule: on_upstream}
        """, {"p": plugin_source("p", "h")})
    result = refused(cli("validate", project=project))
    text = " ".join((result.stdout + result.stderr).split())
    assert "config/pipelines.yaml" in text and "[pipelines.a.depends_on]" in text
    assert "cycle: a → b → a" in text
    assert "requires asset 'price', which no other pipeline provides (did you mean 'prices'?)" in text
    assert "unknown pipeline 'reprot' (did you mean 'report'?)" in text
    assert "scheduled on_upstream but has no upstream" in text
    refused(cli("run", "a", project=project), "cycle")


def test_a_stale_upstream_is_refused_and_force_overrides_it(service_for):
    service = service_for()
    with pytest.raises(PreconditionUnmet) as refusal:
        service.trigger("report")
    assert "asset 'prices' is not fresh: pipeline 'ingest' has never completed" in str(refusal.value)
    assert "--force" in str(refusal.value) and not refusal.value.wait
    forced = completed(service, service.trigger("report", force=True))
    assert forced["forced"] is True
    completed(service, service.trigger("ingest"))
    completed(service, service.trigger("report"))               # fresh now
    later = datetime.now(UTC) + timedelta(hours=2)                # past max_data_age 1h
    with pytest.raises(PreconditionUnmet, match="older than max_data_age 1 h"):
        check_preconditions(service.project, "report", now=later)
    check_preconditions(service.project, "weekly")
    with pytest.raises(PreconditionUnmet, match="upstream pipeline 'report' last completed"):
        check_preconditions(service.project, "weekly", now=later)   # report's own max age


def test_with_upstream_runs_the_chain_in_one_graph_in_order(service_for, out_dir):
    service = service_for()
    run = completed(service, service.trigger("weekly", with_upstream=True))
    assert run["pipeline"] == "weekly" and run["upstream"] == ["ingest", "report"]
    assert run["hooks"] == ["ingest.fetch", "report.build", "summarise"]
    tasks = sorted(service.project.db["tasks"].find({"run_id": run["_id"]}),
                   key=lambda t: t["started"])
    assert [t["plugin"] for t in tasks] == ["fetch", "build", "summarise"]
    assert {t["status"] for t in tasks} == {TaskStatus.COMPLETED}
    assert [out_dir.count(p) for p in ("fetch", "build", "summarise")] == [1, 1, 1]
    check_preconditions(service.project, "weekly")     # the chain counts as fresh upstream
    check_preconditions(service.project, "report")


def test_the_cli_refuses_then_runs_with_upstream(cli, make_project, out_dir):
    project = project_with(make_project, out_dir)
    result = refused(cli("run", "report", "--local", project=project),
                     "pipeline 'report' not started", "ingest", "--force")
    assert "Traceback" not in result.stderr
    run = ok(cli("run", "report", "--with-upstream", "--local", "--json", project=project))
    assert '"status": "completed"' in run.stdout
    assert [out_dir.count("fetch"), out_dir.count("build")] == [1, 1]
    ok(cli("run", "report", "--local", project=project))         # ingest is fresh now


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(service: RunService, pipeline: str) -> list[dict]:
    service.project.recorder.flush()
    return list(service.project.db["schedule_fires"].find({"pipeline": pipeline}).sort(
        "logical_time", 1))


def fired_with_stale_upstream(service_for, policy: str = ""):
    """`report` (every 15 min) fired at 10:15 with its upstream never run: the service,
    clock, loop and metrics registry."""
    service = service_for(", schedule: '*/15 * * * *'" + policy)
    clock = FakeClock(at(2026, 5, 4, 10, 7))
    loop, registry = SchedulerLoop(service, clock), CollectorRegistry()
    scheduler_metrics(registry, loop)
    loop.tick()
    clock.set(at(2026, 5, 4, 10, 15, 2))
    loop.tick()
    return service, clock, loop, registry


def test_the_scheduler_refuses_a_stale_upstream_and_counts_it(service_for):
    service, _, _, registry = fired_with_stale_upstream(service_for)
    [record] = fires(service, "report")
    assert record["outcome"] == "refused" and record["run_id"] is None
    assert "pipeline 'ingest' has never completed" in record["reason"]
    assert registry.get_sample_value("dataflow_schedule_fires_total",
                                     {"pipeline": "report", "outcome": "refused"}) == 1


def test_a_waiting_fire_starts_once_the_upstream_is_fresh(service_for):
    service, clock, loop, registry = fired_with_stale_upstream(service_for, ", on_unmet: wait")
    assert [r["outcome"] for r in fires(service, "report")] == ["waiting"]
    clock.advance(5)
    loop.tick()                                          # still stale: still waiting
    assert [r["outcome"] for r in fires(service, "report")] == ["waiting"]
    completed(service, service.trigger("ingest"))
    clock.advance(5)
    loop.tick()
    [record] = fires(service, "report")
    assert record["outcome"] == "started" and record["reason"].startswith("started after waiting")
    completed(service, record["run_id"])
    sample = registry.get_sample_value
    assert sample("dataflow_schedule_fires_total", {"pipeline": "report", "outcome": "waiting"}) == 1
    assert sample("dataflow_schedule_fires_total", {"pipeline": "report", "outcome": "started"}) == 1


def test_a_waiting_fire_is_refused_at_the_next_fire_time(service_for):
    service = service_for(", schedule: '*/15 * * * *', on_unmet: wait")
    clock = FakeClock(at(2026, 5, 4, 10, 7))
    loop = SchedulerLoop(service, clock)
    loop.tick()
    for when in (at(2026, 5, 4, 10, 15, 2), at(2026, 5, 4, 10, 30, 2)):
        clock.set(when)
        loop.tick()
    first, second = fires(service, "report")
    assert first["outcome"] == "refused" and "still waiting at the next fire time" in first["reason"]
    assert second["outcome"] == "waiting"


def test_on_upstream_fires_once_per_fresh_upstream(service_for):
    service = service_for(", schedule: on_upstream")
    clock = FakeClock(at(2026, 5, 4, 10, 7))
    loop = SchedulerLoop(service, clock)
    loop.tick()
    assert fires(service, "report") == []                # ingest never ran
    completed(service, service.trigger("ingest"))
    clock.advance(5)
    loop.tick()
    [record] = fires(service, "report")
    assert record["outcome"] == "started" and record["schedule"] == "on_upstream"
    assert "upstream fresh: ingest" in record["reason"]
    completed(service, record["run_id"])
    clock.advance(5)
    loop.tick()
    assert len(fires(service, "report")) == 1            # nothing new upstream
    completed(service, service.trigger("ingest"))
    wait_until(lambda: (clock.advance(5), loop.tick(), len(fires(service, "report")))[2] == 2,
               RUN_TIMEOUT, 0.2, "a second on_upstream fire")


def test_dataflow_graph_prints_and_writes_html_and_png(cli, make_project, out_dir, tmp_path):
    project = project_with(make_project, out_dir)
    result = ok(cli("graph", "--output", tmp_path / "deps.html", project=project))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ingest") and "provides prices" in lines[0]
    assert "  report <- ingest (prices)" in lines and "    weekly <- report" in lines
    page = (tmp_path / "deps.html").read_text()
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    ok(cli("graph", "--output", tmp_path / "deps.png", project=project))
    assert (tmp_path / "deps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused(cli("graph", "--output", tmp_path / "deps.gif", project=project), "unknown format")
