"""The cron loop against a real store and a RunService over a real Engine, driven by a
FakeClock: firing, catch-up, overlap, a DST night, restarts and two loops on one store.
(The CLI, pause/resume and the real-clock end-to-end test: test_scheduler_cli.py.)"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import RUN_TIMEOUT, plugin_source, wait_until
from prometheus_client import CollectorRegistry

from dataflow.run.service import RunService
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.metrics import scheduler_metrics
from dataflow.statuses import RunStatus

UTC, NY = timezone.utc, "America/New_York"
# Runs tally; with OUT/hold present they wait for OUT/go (or a cancel) before ending.
BODY = """
tally(context.run_id)
if os.path.exists(os.path.join(OUT, "hold")):
    wait_for("go", stop=context.cancelled)
"""


def at(*parts, zone="UTC") -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def pipelines_yaml(**entries) -> str:
    """pipelines.yaml: each pipeline runs hook `work`, with the given keys."""
    lines = ["pipelines:"]
    for name, keys in entries.items():
        lines += [f"  {name}:", "    hooks: [work]"]
        lines += [f"    {key}: {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def records(service: RunService, pipeline: str | None = None) -> list[dict]:
    """The fire records, oldest logical time first."""
    query = {"pipeline": pipeline} if pipeline else {}
    service.project.recorder.flush()                # run ids are recorded in the background
    return list(service.project.db["schedule_fires"].find(query).sort(
        [("logical_time", 1), ("pipeline", 1)]))


def seen(service: RunService, pipeline: str | None = None, zone: str = "UTC") -> list[tuple]:
    """(local HH:MM zone, outcome) of each fire record."""
    return [(r["logical_time"].astimezone(ZoneInfo(zone)).strftime("%H:%M %Z"), r["outcome"])
            for r in records(service, pipeline)]


def finished(service: RunService, run_id: str) -> str:
    return service.wait(run_id, RUN_TIMEOUT).status


@pytest.fixture
def scheduled(make_project, out_dir, engine_for):
    """scheduled(yaml) -> a RunService over a real Engine of a project whose pipelines
    run the `work` plugin; every run still going is let go and ended afterwards."""
    services = []

    def build(pipelines: str) -> RunService:
        project = make_project(pipelines, {"work": plugin_source("work", ["work"], body=BODY,
                                                                 out=out_dir)})
        services.append(RunService(engine_for(project)))
        return services[-1]
    yield build
    out_dir.release()
    for service in services:
        service.shutdown(RUN_TIMEOUT)


def test_the_loop_fires_each_due_time_once_and_records_it(scheduled):
    service = scheduled(pipelines_yaml(prices={"schedule": "*/15 * * * *"}))
    clock = FakeClock(at(2026, 5, 4, 10, 7))
    loop, registry = SchedulerLoop(service, clock), CollectorRegistry()
    scheduler_metrics(registry, loop)
    assert loop.tick() == at(2026, 5, 4, 10, 15) and records(service) == []
    clock.set(at(2026, 5, 4, 10, 15, 2))
    assert loop.tick() == at(2026, 5, 4, 10, 30)
    [record] = records(service)
    assert (record["_id"], record["outcome"], record["due"]) == (
        "prices:2026-05-04T10:15:00+00:00", "started", at(2026, 5, 4, 10, 15))
    assert finished(service, record["run_id"]) == RunStatus.COMPLETED
    run = service.project.db["runs"].find_one({"_id": record["run_id"]})
    assert (run["trigger"], run["schedule"], run["logical_time"]) == (
        "schedule", "*/15 * * * *", at(2026, 5, 4, 10, 15))
    clock.advance(20)
    assert loop.tick() == at(2026, 5, 4, 10, 30) and len(records(service)) == 1
    status = loop.status()
    assert status["holding"] and status["lease_holder"] == loop.holder
    assert status["pipelines"]["prices"]["next_fire"] == "2026-05-04T10:30:00+00:00"
    sample = registry.get_sample_value
    assert sample("dataflow_schedule_fires_total", {"pipeline": "prices", "outcome": "started"}) == 1
    assert sample("dataflow_schedule_submit_lag_seconds_count") == 1
    assert sample("dataflow_scheduler_lease_held", {"holder": loop.holder}) == 1
    wait_until(lambda: sample("dataflow_schedule_start_lag_seconds_count") == 1, RUN_TIMEOUT)


@pytest.mark.parametrize("keys, late, fired, missed, reason", [
    ({"catchup": "skip"}, 20, ["11:00"], ["10:15", "10:30", "10:45"], "missed (catchup: skip)"),
    ({"catchup": "skip"}, 90, [], ["10:15", "10:30", "10:45", "11:00"], "missed (catchup: skip)"),
    ({"catchup": "latest"}, 300, ["11:00"], ["10:15", "10:30", "10:45"],
     "missed (catchup: latest)"),
    ({"catchup": "all", "max_catchup": 3, "overlap": "allow"}, 300, ["10:30", "10:45", "11:00"],
     ["10:15"], "missed (catchup: all, beyond max_catchup: 3)")])
def test_catchup_after_a_restart_follows_the_policy(scheduled, keys, late, fired, missed, reason):
    service = scheduled(pipelines_yaml(prices={"schedule": "*/15 * * * *", **keys}))
    clock = FakeClock(at(2026, 5, 4, 9, 59))
    first = SchedulerLoop(service, clock)
    first.tick()                                          # watching from 09:59
    clock.set(at(2026, 5, 4, 10, 0, 5))
    first.tick()
    first.close()                                         # down from 10:00:05 to 11:00
    assert finished(service, records(service)[0]["run_id"]) == RunStatus.COMPLETED
    clock.set(at(2026, 5, 4, 11) + timedelta(seconds=late))
    SchedulerLoop(service, clock).tick()
    later = records(service)[1:]
    assert [r["logical_time"].strftime("%H:%M") for r in later if r["outcome"] == "started"] == fired
    assert [r["logical_time"].strftime("%H:%M") for r in later if r["outcome"] == "missed"] == missed
    assert {r["reason"] for r in later if r["outcome"] == "missed"} == {reason}
    for record in later:
        if record["outcome"] == "started":
            assert finished(service, record["run_id"]) == RunStatus.COMPLETED


def fired_at_1015_and_held(service, out_dir):
    """A loop on a fake clock that has fired the 10:15 runs, whose plugins are held
    (they wait for OUT/go); returns (clock, loop)."""
    out_dir.touch("hold")
    clock = FakeClock(at(2026, 5, 4, 10, 14))
    loop = SchedulerLoop(service, clock)
    loop.tick()
    clock.set(at(2026, 5, 4, 10, 15, 1))
    loop.tick()
    return clock, loop


def test_overlap_skip_is_recorded_with_its_reason_and_queue_starts_later(scheduled, out_dir):
    service = scheduled(pipelines_yaml(skips={"schedule": "*/15 * * * *"},
                                       queues={"schedule": "*/15 * * * *", "overlap": "queue"}))
    clock, loop = fired_at_1015_and_held(service, out_dir)
    clock.set(at(2026, 5, 4, 10, 30, 1))
    loop.tick()
    assert seen(service) == [("10:15 UTC", "started")] * 2 + [("10:30 UTC", "queued"),
                                                            ("10:30 UTC", "skipped")]
    reason = "1 run(s) still active, max_active_runs: 1 (overlap: {})"
    assert records(service, "skips")[1]["reason"] == reason.format("skip")
    assert records(service, "queues")[1]["reason"] == reason.format("queue")
    assert loop.sleep_seconds(loop.tick()) == 1.0           # polls the queue every second
    out_dir.touch("go")
    assert finished(service, records(service, "queues")[0]["run_id"]) == RunStatus.COMPLETED
    clock.advance(1)
    loop.tick()
    dequeued = records(service, "queues")[1]
    assert dequeued["outcome"] == "started" and dequeued["reason"].startswith("started from the queue")
    assert finished(service, dequeued["run_id"]) == RunStatus.COMPLETED


def test_overlap_cancel_running_cancels_the_older_run(scheduled, out_dir):
    service = scheduled(pipelines_yaml(fresh={"schedule": "*/15 * * * *",
                                              "overlap": "cancel_running"}))
    clock, loop = fired_at_1015_and_held(service, out_dir)
    wait_until(lambda: out_dir.count("work") == 1, RUN_TIMEOUT, message="the first run to start")
    clock.set(at(2026, 5, 4, 10, 30, 1))
    loop.tick()
    older, newer = records(service)
    assert newer["outcome"] == "started" and newer["cancelled_runs"] == [older["run_id"]]
    assert finished(service, older["run_id"]) == RunStatus.CANCELLED
    out_dir.touch("go")
    assert finished(service, newer["run_id"]) == RunStatus.COMPLETED


@pytest.mark.parametrize("night, start, end, expected", [
    ("fall back", at(2026, 11, 1, 0, 10, zone=NY), at(2026, 11, 1, 2, 40, zone=NY), [
        ("00:30 EDT", "night"), ("01:00 EDT", "night"), ("01:30 EDT", "daily"),
        ("01:30 EDT", "night"), ("02:00 EST", "night"), ("02:30 EST", "night")]),
    ("spring forward", at(2026, 3, 8, 1, 10, zone=NY), at(2026, 3, 8, 3, 40, zone=NY), [
        ("01:30 EST", "daily"), ("01:30 EST", "night"), ("03:00 EDT", "night"),
        ("03:30 EDT", "night")])])
def test_a_dst_night_in_new_york_fires_each_wall_time_once(scheduled, night, start, end, expected):
    service = scheduled(pipelines_yaml(
        night={"schedule": "*/30 * * * *", "timezone": NY, "overlap": "allow"},
        daily={"schedule": "30 1 * * *", "timezone": NY, "overlap": "allow"}))
    clock = FakeClock(start)
    loop = SchedulerLoop(service, clock, lease_ttl=90)
    while clock.now() < end:                  # the loop's own rhythm: tick, bounded sleep
        clock.sleep(loop.sleep_seconds(loop.tick()))
    fired = sorted((r["logical_time"].astimezone(ZoneInfo(NY)).strftime("%H:%M %Z"),
                    r["pipeline"], r["decided"] - r["logical_time"] < timedelta(seconds=1))
                   for r in records(service))
    assert fired == [(*fire, True) for fire in expected]          # each on time, once
    assert {r["outcome"] for r in records(service)} == {"started"}
    assert max(clock.sleeps) == 30
    for record in records(service):
        assert finished(service, record["run_id"]) == RunStatus.COMPLETED
