"""Retries as a user sees them: a plugin's RETRY policy (attempts, each with its error, and
the backoff between them), `retry_on` choosing which errors are retried, `max_delay`
capping the wait, and the central policy from system.yaml `retry:`."""
from __future__ import annotations

import json

from conftest import RUN_TIMEOUT, plugin_source

from dataflow.store.history import get_run

# Fails with the builtin exception ERROR until its SUCCEED_ON-th run (never, when that is 0).
FLAKY = """
attempt = tally()
if attempt != SUCCEED_ON:
    raise getattr(builtins, ERROR)("failure %d of " % attempt + PLUGIN_NAME)
return {"attempt": attempt}
"""

PIPELINES = "pipelines:\n  p:\n    hooks: [work]\n"


def plugin(out_dir, name, retry=None, succeed_on=0, error="RuntimeError"):
    return plugin_source(name, "work", body=FLAKY, imports=["builtins"], out=out_dir,
                         RETRY=retry, SUCCEED_ON=succeed_on, ERROR=error)


def stored_tasks(engine, run_id) -> dict:
    engine.project.recorder.flush()
    return {t["plugin"]: t for t in get_run(engine.project.db, run_id)["tasks"]}


def gaps(attempts) -> list[float]:
    """Seconds between the starts of consecutive attempts."""
    starts = [a["started"] for a in attempts]
    return [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]


def test_failing_twice_then_succeeding_with_backoff(make_project, engine_for, cli, out_dir):
    project = make_project(PIPELINES, {"flaky": plugin(
        out_dir, "flaky", {"max_retries": 3, "delay": 0.2, "backoff": 2.0}, succeed_on=3)})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result.error
    assert result.output("flaky", timeout=RUN_TIMEOUT) == {"attempt": 3}
    engine.project.recorder.flush()
    shown = cli("show", result.run_id[:12], "--json", project=project)
    task = json.loads(shown.stdout)["tasks"][0]
    assert task["status"] == "completed"
    attempts = stored_tasks(engine, result.run_id)["flaky"]["attempts"]
    assert [(a["attempt"], a["error"]) for a in attempts] == [
        (1, "RuntimeError: failure 1 of flaky"), (2, "RuntimeError: failure 2 of flaky"),
        (3, None)]
    assert [a["error"] for a in task["attempts"]] == [a["error"] for a in attempts], \
        "`dataflow show --json` shows every attempt with its error"
    first, second = gaps(attempts)
    assert 0.9 * 0.2 <= first < 0.2 + 0.5, first
    assert 0.9 * 0.4 <= second < 0.4 + 0.5, second
    warnings = [r["message"] for r in engine.project.db["logs"].find(
        {"run_id": result.run_id, "level": "WARNING"}).sort("seq", 1)]
    assert len(warnings) == 2 and "retrying in 0.20s" in warnings[0], warnings
    assert "retrying in 0.40s" in warnings[1]


def test_retry_on_picks_the_errors_worth_retrying(make_project, engine_for, out_dir):
    policy = {"max_retries": 3, "delay": 0.05, "retry_on": ["ConnectionError"]}
    project = make_project(PIPELINES, {
        "picky": plugin(out_dir, "picky", policy, succeed_on=2, error="ValueError"),
        "network": plugin(out_dir, "network", policy, succeed_on=2,
                          error="ConnectionResetError")})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed_with_errors"
    tasks = stored_tasks(engine, result.run_id)
    assert tasks["picky"]["status"] == "failed", "a ValueError is not a ConnectionError"
    assert [a["error"] for a in tasks["picky"]["attempts"]] == ["ValueError: failure 1 of picky"]
    assert out_dir.count("picky") == 1, "it ran once"
    assert tasks["network"]["status"] == "completed", "a subclass of ConnectionError is retried"
    assert [a["error"] for a in tasks["network"]["attempts"]] == [
        "ConnectionResetError: failure 1 of network", None]


def test_max_delay_caps_the_wait(make_project, engine_for, out_dir):
    project = make_project(PIPELINES, {"capped": plugin(
        out_dir, "capped", {"max_retries": 2, "delay": 0.3, "backoff": 10.0, "max_delay": 0.4})})
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed_with_errors"
    task = stored_tasks(engine, result.run_id)["capped"]
    assert task["status"] == "failed" and task["error"] == "RuntimeError: failure 3 of capped"
    assert [a["error"] for a in task["attempts"]] == [
        f"RuntimeError: failure {n} of capped" for n in (1, 2, 3)]
    first, second = gaps(task["attempts"])
    assert 0.9 * 0.3 <= first < 0.3 + 0.5, first
    assert 0.9 * 0.4 <= second < 0.4 + 0.5, f"{second}: 3 s without the cap"


def test_central_policy_applies_to_plugins_without_their_own(make_project, engine_for,
                                                            out_dir):
    project = make_project(PIPELINES, {
        "plain": plugin(out_dir, "plain", succeed_on=2),
        "strict": plugin(out_dir, "strict", {"max_retries": 0}, succeed_on=2)},
        system="retry:\n  max_retries: 2\n  delay: 0.1\n  backoff: 1.0\n")
    engine = engine_for(project)
    result = engine.run("p", timeout=RUN_TIMEOUT)
    tasks = stored_tasks(engine, result.run_id)
    assert tasks["plain"]["status"] == "completed", "system.yaml's retry applied"
    assert [a["error"] for a in tasks["plain"]["attempts"]] == [
        "RuntimeError: failure 1 of plain", None]
    assert 0.9 * 0.1 <= gaps(tasks["plain"]["attempts"])[0] < 0.1 + 0.5
    assert tasks["strict"]["status"] == "failed", "the plugin's own RETRY wins"
    assert out_dir.count("strict") == 1
    assert result.status == "completed_with_errors"
