"""Never twice, never lost: restarts and two loops on one store (FakeClock, real store and
Engine); pause/resume and the listing through the real CLI; and `dataflow scheduler` as a
real process firing a `* * * * *` pipeline on the real clock, stopped by SIGINT."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused, wait_until
from pymongo import MongoClient
from test_scheduler import at, finished, pipelines_yaml, records, scheduled  # noqa: F401

from dataflow.errors import InvalidInput, PipelineNotFound
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.statuses import RunStatus
from dataflow.store.schedules import claim_and_store
from dataflow.web.api.route import Call
from dataflow.web.api.schedules import ROUTES
from dataflow.web.context import WebContext

EVERY_15 = {"schedule": "*/15 * * * *", "overlap": "allow", "catchup": "latest"}


def hhmm(service, outcome: str = "started") -> list[str]:
    return [f"{r['logical_time']:%H:%M}" for r in records(service) if r["outcome"] == outcome]


def test_a_restart_neither_fires_a_time_twice_nor_forgets_a_due_one(scheduled):
    service = scheduled(pipelines_yaml(prices=EVERY_15))
    clock = FakeClock(at(2026, 5, 4, 10, 14))
    first = SchedulerLoop(service, clock)
    first.tick()
    clock.set(at(2026, 5, 4, 10, 15, 1))
    first.tick()
    first.close()
    clock.set(at(2026, 5, 4, 10, 20))
    second = SchedulerLoop(service, clock)
    assert second.tick() == at(2026, 5, 4, 10, 30) and hhmm(service) == ["10:15"]
    second.close()                                  # down over 10:30; back 20 s late
    clock.set(at(2026, 5, 4, 10, 30, 20))
    third = SchedulerLoop(service, clock)
    third.tick()
    assert hhmm(service) == ["10:15", "10:30"] and records(service)[1]["holder"] == third.holder
    # a loop that died after recording its fire but before saving its last fire time:
    service.project.db["schedule_state"].update_one(
        {"_id": "prices"}, {"$set": {"last_fired": at(2026, 5, 4, 10, 15)}})
    third.close()
    SchedulerLoop(service, clock).tick()            # decides 10:30 again: its claim fails
    service.project.recorder.flush()
    assert hhmm(service) == ["10:15", "10:30"]
    assert service.project.db["runs"].count_documents({"trigger": "schedule"}) == 2
    for record in records(service):
        assert finished(service, record["run_id"]) == RunStatus.COMPLETED


def test_two_loops_on_one_store_fire_each_time_once_and_take_over(scheduled):
    service = scheduled(pipelines_yaml(prices=EVERY_15, hourly={**EVERY_15, "schedule": "0 * * * *"}))
    clock = FakeClock(at(2026, 5, 4, 9, 59))
    one, two = (SchedulerLoop(service, clock, lease_ttl=6) for _ in range(2))
    for step in range(40):                          # 10:00 to 11:16, ticking in turns
        first, second = (one, two) if step % 3 else (two, one)
        first.tick()
        second.tick()
        assert one.holding != two.holding           # exactly one holds the lease
        clock.advance(2 if step % 2 else 235)
    expected = ["10:00", "10:00", "10:15", "10:30", "10:45", "11:00", "11:00", "11:15"]
    assert hhmm(service) == expected
    assert len({r["run_id"] for r in records(service)}) == len(expected)
    assert len({r["holder"] for r in records(service)}) == 2     # both fired, never the same
    holder, standby = (one, two) if one.holding else (two, one)
    holder.tick()
    assert standby.status()["lease_holder"] == holder.holder
    clock.advance(5)                                # the holder dies: it stops renewing
    standby.tick()
    assert not standby.holding
    clock.advance(2)                                # its lease (6 s) ran out
    standby.tick()
    assert standby.holding and standby.status()["lease_holder"] == standby.holder
    for record in records(service):
        assert finished(service, record["run_id"]) == RunStatus.COMPLETED


def test_a_fire_time_someone_else_claimed_is_not_started(scheduled):
    service = scheduled(pipelines_yaml(prices=EVERY_15))
    clock = FakeClock(at(2026, 5, 4, 10, 14))
    loop = SchedulerLoop(service, clock)
    loop.tick()
    claim_and_store(service.project.db, [{     # as another loop claims and records it
        "_id": "prices:2026-05-04T10:15:00+00:00", "pipeline": "prices", "outcome": "started",
        "logical_time": at(2026, 5, 4, 10, 15), "decided": clock.now(), "holder": "elsewhere"}])
    clock.set(at(2026, 5, 4, 10, 15, 1))
    loop.tick()
    assert [r["holder"] for r in records(service)] == ["elsewhere"]
    service.project.recorder.flush()
    assert service.project.db["runs"].count_documents({}) == 0 and not service.active()


def test_pause_and_resume_from_the_cli_and_the_listing(scheduled, cli):
    service = scheduled(pipelines_yaml(prices={"schedule": "*/15 * * * *", "timezone": "Europe/Berlin"},
                                       adhoc={}))
    project = service.project.directory
    clock = FakeClock(at(2026, 5, 4, 10, 14))
    loop = SchedulerLoop(service, clock)
    loop.tick()
    assert "schedule of prices: paused" in ok(cli("schedule", "pause", "prices", project=project)).stdout
    clock.set(at(2026, 5, 4, 10, 15, 1))
    loop.tick()
    assert [(r["outcome"], r["reason"]) for r in records(service)] == [("paused", "paused")]
    listed = json.loads(ok(cli("schedule", "--json", "--next", "2h", project=project)).stdout)
    [row] = listed["pipelines"]
    assert (row["pipeline"], row["paused"], row["next_fires"]) == ("prices", True, [])
    assert row["paused_by"].startswith("cli") and row["last_outcome"] == "paused"
    assert listed["recent_fires"][0]["outcome"] == "paused"
    assert listed["scheduler"]["holder"] is None        # the FakeClock's lease is long gone
    shown = ok(cli("schedule", project=project)).stdout
    assert "paused" in shown and "no scheduler holds the lease" in shown
    ok(cli("schedule", "resume", "prices", project=project))
    resumed = json.loads(ok(cli("schedule", "--json", "--next", "1h", project=project)).stdout)
    assert not resumed["pipelines"][0]["paused"] and len(resumed["pipelines"][0]["next_fires"]) == 4
    assert resumed["pipelines"][0]["next_fires"][0]["local"].endswith(("+01:00", "+02:00"))
    clock.set(at(2026, 5, 4, 10, 30, 1))
    loop.tick()
    assert [r["outcome"] for r in records(service)] == ["paused", "started"]
    refused(cli("schedule", "pause", "adhoc", project=project), "has no schedule")
    refused(cli("schedule", "pause", "ghost", project=project), "no pipeline named 'ghost'")
    assert finished(service, records(service)[1]["run_id"]) == RunStatus.COMPLETED


def test_the_api_routes_list_pause_and_resume(scheduled):
    service = scheduled(pipelines_yaml(prices=EVERY_15))
    web = WebContext(service)
    listing, pause, resume = ROUTES
    loop = web.extras["scheduler"] = SchedulerLoop(service, FakeClock(at(2026, 5, 4, 10, 14)))
    loop.tick()

    def call(route, query=None, **path):
        return route.call(Call(web, path, route.parse_query(query or {})))
    listed = call(listing, {"next": [b"1h"]})
    assert [row["pipeline"] for row in listed["pipelines"]] == ["prices"]
    assert len(listed["pipelines"][0]["next_fires"]) == 4
    assert listed["loop"]["holder"] == loop.holder and listed["recent_fires"] == []
    paused = call(pause, pipeline="prices")
    assert (paused["paused"], paused["paused_by"], paused["override"]) == (True, "api", True)
    assert call(listing, {"pipeline": [b"prices"]})["pipelines"][0]["paused"]
    assert call(resume, pipeline="prices")["override"] is False
    assert not call(listing)["pipelines"][0]["paused"]
    with pytest.raises(InvalidInput, match="next: invalid horizon 'soon'"):
        call(listing, {"next": [b"soon"]})
    with pytest.raises(PipelineNotFound):
        call(pause, pipeline="ghost")


def test_dataflow_scheduler_fires_on_the_real_clock_and_stops_on_sigint(
        make_project, out_dir, store_env):
    project = make_project(
        pipelines_yaml(minutely={"schedule": "* * * * *"}),
        {"work": plugin_source("work", ["work"], body="tally(context.run_id)", out=out_dir)},
        system="cluster:\n  n_workers: 1\n")
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    # started in the first 40 s of a minute, the loop is up before that minute's end
    wait_until(lambda: datetime.now(timezone.utc).second < 40, 25, 0.2, "a minute's start")
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = MongoClient(store_env["DATAFLOW_MONGO_URI"], tz_aware=True)[store_env["DATAFLOW_MONGO_DB"]]
    try:
        fire = wait_until(lambda: db["schedule_fires"].find_one({"run_id": {"$ne": None}}),
                          75, 0.2, "the first fire of * * * * *")
        run = wait_until(lambda: db["runs"].find_one({"_id": fire["run_id"],
                                                      "status": RunStatus.COMPLETED}),
                         RUN_TIMEOUT, 0.2, "the scheduled run to complete")
        assert (run["trigger"], run["logical_time"]) == ("schedule", fire["logical_time"])
        assert fire["logical_time"].second == 0 and out_dir.count("work") >= 1
        assert (fire["submitted"] - fire["due"]).total_seconds() < 5
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "scheduler stopped (SIGINT)" in output
    [loop] = db["scheduler_loops"].find()
    assert loop["stopped"] is not None and loop["stop_reason"] == "stopped"
    assert db["schedule_lease"].find_one()["expires"] <= datetime.now(timezone.utc)
