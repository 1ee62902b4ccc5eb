"""The loop reads ahead of a fire time (schedule/ahead.py): it wakes 1.5 s before it,
makes the tick's reads, then at the instant only decides, claims and submits — with the
garbage collector held off, the lease renewed after the burst. The guarantees stay: a
fire time claimed by another loop is never started twice, stale reads are read again.
Also: claims and fire records and their indexes, and the RunService keeping only its
newest results."""
from __future__ import annotations

import gc

import pytest
from conftest import RUN_TIMEOUT
from test_scheduler import at, finished, pipelines_yaml, records, scheduled  # noqa: F401

from dataflow.errors import RunNotFound
from dataflow.run import service as service_module
from dataflow.schedule import ahead
from dataflow.schedule.clock import FakeClock
from dataflow.schedule.loop import SchedulerLoop
from dataflow.statuses import RunStatus
from dataflow.store import schedules as store

EVERY_15 = {"schedule": "*/15 * * * *"}


def read_ahead_for_1015(service) -> tuple[FakeClock, SchedulerLoop]:
    """A loop on its own rhythm (tick, sleep) from 10:14: it wakes at 10:14:58.5, reads
    ahead there, and is left about to sleep the last 1.5 s."""
    clock = FakeClock(at(2026, 5, 4, 10, 14))
    loop = SchedulerLoop(service, clock)
    next_due = loop.tick()
    while loop.sleep_seconds(next_due) != 1.5:          # 1.5: read ahead, on to the instant
        clock.sleep(loop.sleep_seconds(next_due))
        assert loop.tick() == at(2026, 5, 4, 10, 15)
    assert clock.now() == at(2026, 5, 4, 10, 14, 58, 500000) and records(service) == []
    return clock, loop


def test_the_tick_at_the_instant_uses_the_reads_made_ahead(scheduled):
    service = scheduled(pipelines_yaml(a=EVERY_15, b=EVERY_15))
    clock, loop = read_ahead_for_1015(service)
    collecting = []
    loop.listeners.append(lambda kind, data: collecting.append(gc.isenabled())
                          if kind == "fire" else None)
    assert store.lease(service.project.db)["renewed"] == at(2026, 5, 4, 10, 14, 58, 500000)
    clock.sleep(1.5)
    assert loop.tick() == at(2026, 5, 4, 10, 30) and gc.isenabled()
    assert collecting == [False, False]                 # no collection inside the burst
    fires = records(service)
    assert [(r["pipeline"], r["outcome"], r["decided"], r["submitted"]) for r in fires] == [
        (name, "started", at(2026, 5, 4, 10, 15), at(2026, 5, 4, 10, 15)) for name in "ab"]
    assert store.lease(service.project.db)["renewed"] == at(2026, 5, 4, 10, 15)  # after it
    for record in fires:
        assert finished(service, record["run_id"]) == RunStatus.COMPLETED


def test_reads_gone_stale_are_made_again_at_the_instant(scheduled, monkeypatch):
    service = scheduled(pipelines_yaml(a=EVERY_15, b=EVERY_15))
    clock, loop = read_ahead_for_1015(service)
    store.set_pause(service.project.db, "b", True, "test", clock.now())    # after the reads
    monkeypatch.setattr(ahead, "FRESH_FOR", 0.0)        # ... which are now too old to use
    clock.sleep(1.5)
    loop.tick()
    assert [(r["pipeline"], r["outcome"]) for r in records(service)] == [
        ("a", "started"), ("b", "paused")]
    assert finished(service, records(service, "a")[0]["run_id"]) == RunStatus.COMPLETED


def test_a_loop_that_lost_the_lease_after_reading_ahead_starts_nothing_twice(scheduled):
    service = scheduled(pipelines_yaml(a=EVERY_15))
    _, stale = read_ahead_for_1015(service)             # its lease runs to 10:15:13.5
    other = SchedulerLoop(service, FakeClock(at(2026, 5, 4, 10, 15, 14)))
    other.tick()                                        # took over, fired 10:15
    assert other.holding and [r["holder"] for r in records(service)] == [other.holder]
    stale.clock.sleep(1.5)
    stale.tick()                                        # still believes it holds it
    assert not stale.holding
    assert [r["holder"] for r in records(service)] == [other.holder]
    service.project.recorder.flush()
    assert service.project.db["runs"].count_documents({"trigger": "schedule"}) == 1
    assert finished(service, records(service)[0]["run_id"]) == RunStatus.COMPLETED


def test_claims_and_fire_records_keep_only_the_indexes_their_queries_use(scheduled):
    service = scheduled(pipelines_yaml(a=EVERY_15))
    db = service.project.db
    db[store.FIRES].create_index("outcome")              # as an older version made it
    store.ensure_indexes(db)
    names = set(db[store.FIRES].index_information())
    assert store.OLD_OUTCOME_INDEX not in names and store.QUEUED_INDEX in names
    fires = [{"_id": f"a:{minute}", "pipeline": "a", "logical_time": at(2026, 5, 4, 10, minute),
              "decided": at(2026, 5, 4, 10, minute), "outcome": outcome}
             for minute, outcome in ((30, "queued"), (15, "queued"), (0, "started"))]
    assert store.claim_and_store(db, fires) == {"a:0", "a:15", "a:30"}
    assert store.claim_fires(db, fires[:1]) == set()              # claimed once only
    assert [r["_id"] for r in store.queued_fires(db)] == ["a:15", "a:30"]
    plan = db[store.FIRES].find({"outcome": "queued"}).sort("logical_time", 1).explain()
    assert store.QUEUED_INDEX in str(plan)
    assert list(db[store.CLAIMS].index_information()) == ["_id_"]   # the claim: cheap
    assert store.prune_fires(db, at(2026, 5, 4, 10, 20)) == 2       # with their claims
    assert sorted(doc["_id"] for doc in db[store.CLAIMS].find()) == ["a:30"]


def test_the_service_keeps_only_its_newest_results(scheduled, monkeypatch):
    monkeypatch.setattr(service_module, "RESULTS_KEPT", 2)
    service = scheduled(pipelines_yaml(a={}))
    run_ids = []
    for _ in range(3):
        run_ids.append(service.trigger("a"))
        assert service.wait(run_ids[-1], RUN_TIMEOUT).status == RunStatus.COMPLETED
    with pytest.raises(RunNotFound):
        service.wait(run_ids[0])
    assert [service.wait(run_id).run_id for run_id in run_ids[1:]] == run_ids[1:]
