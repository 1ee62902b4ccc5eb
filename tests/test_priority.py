"""Priorities on a saturated cluster (both workers busy): work of higher priority that was
submitted later overtakes queued work of lower priority - jobs inside a plugin
(`priority="critical" | "high" | "low"`) and whole pipelines (`priority:` in pipelines.yaml)."""
from __future__ import annotations

from conftest import RUN_TIMEOUT, plugin_source, wait_until

# Plugin bodies (plugin_source with out=out_dir); "release" (the test's teardown at the
# latest) ends every wait.
HOLDER = """
mark("started")
wait_for("release")
"""

RANK_JOBS = """
def job(label):
    started = time.time()
    time.sleep(0.1)
    return label, started
"""

RANKER = """
jobs = context["services"]["jobs"]
wait_for("prio_holder.started")                       # both workers are busy now
futures = []
for label, count in (("low", 10), ("high", 5), ("critical", 5)):
    futures += jobs.map(job, [label] * count, priority=label, name=label)
keys = [future.key for future in futures]
for _ in range(1000):                                # until the scheduler has them all
    if distributed.get_client().run_on_scheduler(
            lambda dask_scheduler: all(key in dask_scheduler.tasks for key in keys)):
        break
    time.sleep(0.01)
mark("submitted")
return jobs.gather(futures)
"""

HOLDER_UNTIL_SUBMITTED = """
mark("started")
wait_for("prio_ranker.submitted")
"""

STARTER = """
started = time.time()
time.sleep(0.2)
return started
"""


def plugin(body, out_dir, name, hook, code=""):
    return plugin_source(name, hook, body=body, imports=["distributed"], code=code, out=out_dir)


def order_of(starts: dict) -> list[str]:
    """Labels sorted by start time."""
    return [label for label, _ in sorted(starts.items(), key=lambda item: item[1])]


def mean_rank(order: list[str], prefix: str) -> float:
    ranks = [rank for rank, label in enumerate(order) if label.startswith(prefix)]
    return sum(ranks) / len(ranks)


def overtaken(order: list[str], low: str, high: str) -> int:
    """How many `low` items started before the last `high` item."""
    last_high = max(rank for rank, label in enumerate(order) if label.startswith(high))
    return sum(1 for label in order[:last_high] if label.startswith(low))


def test_urgent_jobs_submitted_last_start_first(make_project, engine_for, out_dir):
    project = make_project("pipelines:\n  rank:\n    hooks: [work]\n", {
        "prio_ranker": plugin(RANKER, out_dir, "prio_ranker", "work", code=RANK_JOBS),
        "prio_holder": plugin(HOLDER_UNTIL_SUBMITTED, out_dir, "prio_holder", "work")})
    engine = engine_for(project)
    result = engine.wait(engine.start("rank"), timeout=60)
    assert result.status == "completed", result.error
    starts = {f"{label}{index}": started for index, (label, started)
              in enumerate(result.output("prio_ranker", timeout=RUN_TIMEOUT))}
    order = order_of(starts)
    print("\njob start order:", " ".join(order))
    # Dask hands each busy worker one queued job ahead of time: at most those two lows go first.
    assert overtaken(order, "low", "high") <= 2, order
    assert overtaken(order, "low", "critical") <= 2, order
    assert overtaken(order, "high", "critical") <= 1, order
    assert mean_rank(order, "critical") < mean_rank(order, "high") < mean_rank(order, "low")


PIPELINES = """
pipelines:
  hold:
    hooks: [block]
  background:
    priority: low
    hooks: [first]
  urgent:
    priority: high
    hooks: [first]
"""


def test_high_priority_pipeline_started_later_runs_first(make_project, engine_for, dask_client,
                                                        out_dir):
    plugins = {f"hold{i}": plugin(HOLDER, out_dir, f"hold{i}", "block") for i in range(2)}
    steps = [f"step{i}" for i in range(4)]
    plugins.update({name: plugin(STARTER, out_dir, name, "first") for name in steps})
    engine = engine_for(make_project(PIPELINES, plugins))
    hold = engine.start("hold")
    for name in ("hold0", "hold1"):
        wait_until(lambda: out_dir.read(name, "started") is not None, 30, message=name)
    background, urgent = engine.start("background"), engine.start("urgent")
    queued = [future.key for future in urgent.futures.values()]
    wait_until(lambda: set(queued) <= {key for keys in dask_client.processing().values()
                                       for key in keys}, 10, message="urgent queued on workers")
    out_dir.release()
    starts = {}
    for label, handle in (("low", background), ("high", urgent)):
        result = engine.wait(handle, timeout=60)
        assert result.status == "completed", result.error
        starts.update({f"{label}-{name}": result.output(name, timeout=RUN_TIMEOUT)
                       for name in steps})
    assert engine.wait(hold, timeout=30).status == "completed"
    order = order_of(starts)
    print("\npipeline task start order:", " ".join(order))
    assert overtaken(order, "low", "high") <= 1, order
    assert mean_rank(order, "high") < mean_rank(order, "low")
