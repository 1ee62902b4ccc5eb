"""The engine on a real LocalCluster: hook order, parallel plugins, inputs, FAIL_HARD, and
`Engine.run(timeout=)` cancelling a run that does not end in time."""
from __future__ import annotations

import time

import pytest
from conftest import RUN_TIMEOUT, plugin_source

from dataflow.errors import RunTimeout
from dataflow.store.history import get_run

# Sleeps SLEEP seconds (then fails, if FAIL); returns when it ran and what it got.
TIMED = """
start = time.time()
time.sleep(SLEEP)
if FAIL:
    raise RuntimeError("boom from " + PLUGIN_NAME)
return {"name": PLUGIN_NAME, "start": start, "end": time.time(),
        "inputs": sorted(context["inputs"])}
"""

PIPELINES = """
pipelines:
  p:
    hooks: ["first", "second"]
"""


def plugin(name, hook, sleep=0.0, fail=False, fail_hard=False):
    return plugin_source(name, hook, ["p"], TIMED, imports=["time"], FAIL_HARD=fail_hard,
                         SLEEP=sleep, FAIL=fail)


def test_plugins_of_a_hook_overlap_and_hooks_are_ordered(make_project, engine_for):
    project = make_project(PIPELINES, {
        "a": plugin("a", "first", 1.0), "b": plugin("b", "first", 1.0),
        "c": plugin("c", "second")})
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed"
    a, b, c = (result.output(name, timeout=RUN_TIMEOUT) for name in "abc")
    assert a["start"] < b["end"] and b["start"] < a["end"], "plugins of one hook overlap"
    assert c["start"] >= max(a["end"], b["end"]), "the next hook starts after the previous"
    assert c["inputs"] == ["a", "b"]


def test_failing_plugin_is_recorded_and_run_goes_on(make_project, engine_for):
    project = make_project(PIPELINES, {
        "a": plugin("a", "first", fail=True), "b": plugin("b", "first"),
        "c": plugin("c", "second")})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed_with_errors"
    assert result.output("c", timeout=RUN_TIMEOUT)["inputs"] == ["b"]
    engine.project.recorder.flush()
    stored = get_run(engine.project.db, result.run_id)
    failed = [t for t in stored["tasks"] if t["plugin"] == "a"][0]
    assert failed["status"] == "failed" and "boom from a" in failed["error"]
    assert "RuntimeError" in failed["traceback"]


def test_fail_hard_stops_later_hooks(make_project, engine_for):
    project = make_project(PIPELINES, {
        "a": plugin("a", "first", fail=True, fail_hard=True), "b": plugin("b", "first"),
        "c": plugin("c", "second")})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "failed"
    assert result.tasks["second.c"]["status"] == "skipped"
    assert result.tasks["first.b"]["status"] == "completed"


def test_run_timeout_cancels_a_plugin_that_would_sleep_for_ten_minutes(make_project, engine_for,
                                                                      out_dir):
    sleeper = plugin_source("sleeper", "first", ["p"], """
        mark("started")
        wait_for("release", seconds=600)      # ignores context.cancelled(), has no cancel()
        mark("woke")""", out=out_dir)
    engine = engine_for(make_project("pipelines:\n  p:\n    hooks: [first]\n", {"sleeper": sleeper},
                                     system="cluster:\n  cancel_grace_seconds: 0.5\n"))
    begun = time.monotonic()
    with pytest.raises(RunTimeout) as raised:
        engine.run("p", timeout=3)
    took = time.monotonic() - begun
    assert 3 <= took < 3 + 0.5 + 10, f"cancelled soon after the timeout, took {took:.1f}s"
    timeout = raised.value
    assert timeout.status == "cancelled" and timeout.timeout == 3
    assert f"dataflow resume {timeout.run_id[:12]}" in str(timeout), "it says how to go on"
    assert out_dir.read("sleeper", "started") is not None
    assert out_dir.read("sleeper", "woke") is None
    engine.project.recorder.flush()
    stored = get_run(engine.project.db, timeout.run_id)
    assert stored["status"] == "cancelled" and stored["finished"]
    assert [(t["plugin"], t["status"]) for t in stored["tasks"]] == [("sleeper", "cancelled")]
    assert "stopped hard" in stored["tasks"][0]["error"]
