"""Retries as a user sees them: a plugin's RETRY policy (attempts, each with its error, and
the backoff between them), `retry_on` choosing which errors are retried, `max_delay`
capping the wait, and the central policy from system.yaml `retry:`."""
from __future__ import annotations

import json

from dataflow.store.history import get_run

# Fails with __ERROR__ until it has run __SUCCEED_ON__ times (never, when that is 0).
FLAKY = '''
import os
OUT = "__OUT__"
PLUGIN_NAME = "__NAME__"
HOOKS = ["work"]
PIPELINES = ["*"]
__RETRY__
def run(context, config):
    with open(os.path.join(OUT, PLUGIN_NAME + ".count"), "a") as handle:
        handle.write("x")
    attempt = len(open(os.path.join(OUT, PLUGIN_NAME + ".count")).read())
    if attempt != __SUCCEED_ON__:
        raise __ERROR__("failure %d of " % attempt + PLUGIN_NAME)
    return {"attempt": attempt}
'''

PIPELINES = "pipelines:\n  p:\n    hooks: [work]\n"


def plugin(out, name, retry=None, succeed_on=0, error="RuntimeError"):
    return (FLAKY.replace("__OUT__", str(out)).replace("__NAME__", name)
            .replace("__RETRY__", f"RETRY = {retry!r}" if retry is not None else "")
            .replace("__SUCCEED_ON__", str(succeed_on)).replace("__ERROR__", error))


def stored_tasks(engine, run_id) -> dict:
    engine.project.recorder.flush()
    return {t["plugin"]: t for t in get_run(engine.project.db, run_id)["tasks"]}


def gaps(attempts) -> list[float]:
    """Seconds between the starts of consecutive attempts."""
    starts = [a["started"] for a in attempts]
    return [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]


def test_failing_twice_then_succeeding_with_backoff(make_project, engine_for, cli, tmp_path):
    project = make_project(PIPELINES, {"flaky": plugin(
        tmp_path, "flaky", {"max_retries": 3, "delay": 0.2, "backoff": 2.0}, succeed_on=3)})
    engine = engine_for(project)
    result = engine.run("p")
    assert result.status == "completed", result.error
    assert result.output("flaky") == {"attempt": 3}
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


def test_retry_on_picks_the_errors_worth_retrying(make_project, engine_for, tmp_path):
    policy = {"max_retries": 3, "delay": 0.05, "retry_on": ["ConnectionError"]}
    project = make_project(PIPELINES, {
        "picky": plugin(tmp_path, "picky", policy, succeed_on=2, error="ValueError"),
        "network": plugin(tmp_path, "network", policy, succeed_on=2,
                          error="ConnectionResetError")})
    engine = engine_for(project)
    result = engine.run("p")
    assert result.status == "completed_with_errors"
    tasks = stored_tasks(engine, result.run_id)
    assert tasks["picky"]["status"] == "failed", "a ValueError is not a ConnectionError"
    assert [a["error"] for a in tasks["picky"]["attempts"]] == ["ValueError: failure 1 of picky"]
    assert (tmp_path / "picky.count").read_text() == "x", "it ran once"
    assert tasks["network"]["status"] == "completed", "a subclass of ConnectionError is retried"
    assert [a["error"] for a in tasks["network"]["attempts"]] == [
        "ConnectionResetError: failure 1 of network", None]


def test_max_delay_caps_the_wait(make_project, engine_for, tmp_path):
    project = make_project(PIPELINES, {"capped": plugin(
        tmp_path, "capped", {"max_retries": 2, "delay": 0.3, "backoff": 10.0, "max_delay": 0.4})})
    engine = engine_for(project)
    result = engine.run("p")
    assert result.status == "completed_with_errors"
    task = stored_tasks(engine, result.run_id)["capped"]
    assert task["status"] == "failed" and task["error"] == "RuntimeError: failure 3 of capped"
    assert [a["error"] for a in task["attempts"]] == [
        f"RuntimeError: failure {n} of capped" for n in (1, 2, 3)]
    first, second = gaps(task["attempts"])
    assert 0.9 * 0.3 <= first < 0.3 + 0.5, first
    assert 0.9 * 0.4 <= second < 0.4 + 0.5, f"{second}: 3 s without the cap"


def test_central_policy_applies_to_plugins_without_their_own(make_project, engine_for,
                                                            tmp_path):
    project = make_project(PIPELINES, {
        "plain": plugin(tmp_path, "plain", succeed_on=2),
        "strict": plugin(tmp_path, "strict", {"max_retries": 0}, succeed_on=2)},
        system="retry:\n  max_retries: 2\n  delay: 0.1\n  backoff: 1.0\n")
    engine = engine_for(project)
    result = engine.run("p")
    tasks = stored_tasks(engine, result.run_id)
    assert tasks["plain"]["status"] == "completed", "system.yaml's retry applied"
    assert [a["error"] for a in tasks["plain"]["attempts"]] == [
        "RuntimeError: failure 1 of plain", None]
    assert 0.9 * 0.1 <= gaps(tasks["plain"]["attempts"])[0] < 0.1 + 0.5
    assert tasks["strict"]["status"] == "failed", "the plugin's own RETRY wins"
    assert (tmp_path / "strict.count").read_text() == "x"
    assert result.status == "completed_with_errors"
