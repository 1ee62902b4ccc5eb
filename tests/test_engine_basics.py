"""The engine on a real LocalCluster: hook order, parallel plugins, inputs, FAIL_HARD."""
from __future__ import annotations

from dataflow.store.history import get_run

TIMED = '''
import time
PLUGIN_NAME = "{name}"
HOOKS = ["{hook}"]
PIPELINES = ["p"]
FAIL_HARD = {fail_hard}
def run(context, config):
    start = time.time()
    time.sleep({sleep})
    if {fail}:
        raise RuntimeError("boom from {name}")
    return {{"name": "{name}", "start": start, "end": time.time(),
            "inputs": sorted(context["inputs"])}}
'''

PIPELINES = """
pipelines:
  p:
    hooks: ["first", "second"]
"""


def plugin(name, hook, sleep=0.0, fail=False, fail_hard=False):
    return TIMED.format(name=name, hook=hook, sleep=sleep, fail=fail, fail_hard=fail_hard)


def test_plugins_of_a_hook_overlap_and_hooks_are_ordered(make_project, engine_for):
    project = make_project(PIPELINES, {
        "a": plugin("a", "first", 1.0), "b": plugin("b", "first", 1.0),
        "c": plugin("c", "second")})
    result = engine_for(project).run("p")
    assert result.status == "completed"
    a, b, c = (result.output(name) for name in "abc")
    assert a["start"] < b["end"] and b["start"] < a["end"], "plugins of one hook overlap"
    assert c["start"] >= max(a["end"], b["end"]), "the next hook starts after the previous"
    assert c["inputs"] == ["a", "b"]


def test_failing_plugin_is_recorded_and_run_goes_on(make_project, engine_for):
    project = make_project(PIPELINES, {
        "a": plugin("a", "first", fail=True), "b": plugin("b", "first"),
        "c": plugin("c", "second")})
    engine = engine_for(project)
    result = engine.run("p")
    assert result.status == "completed_with_errors"
    assert result.output("c")["inputs"] == ["b"]
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
    result = engine.run("p")
    assert result.status == "failed"
    assert result.tasks["second.c"]["status"] == "skipped"
    assert result.tasks["first.b"]["status"] == "completed"
