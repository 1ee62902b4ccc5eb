"""Cancel as a user does it: `dataflow cancel` from another process against `dataflow run`, and
`Engine.cancel`. Queued tasks never start, cooperative plugins stop (their `cancel()` runs in their
worker), plugins ignoring it are stopped hard after the grace period; other work is unharmed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

from conftest import RUN_TIMEOUT, plugin_source, wait_until

from dataflow import Project

SYSTEM = "cluster:\n  cancel_grace_seconds: 1\n"

# Plugin bodies (plugin_source with out=out_dir): each leaves files NAME.WHAT in out_dir.
COOPERATIVE = """
mark("started", f"{os.getpid()} {context['run_id']}")
wait_for("release", stop=context.cancelled)
mark("saw_cancelled", os.getpid())
return "stopped early"
"""
CANCEL_HOOK = """
def cancel():
    mark("cancel_pid", os.getpid())
"""
WAITS_FOR_RELEASE = """
mark("started", f"{os.getpid()} {context['run_id']}")
wait_for("release")                  # ignores context.cancelled() and has no cancel()
mark("finished", os.getpid())
return PLUGIN_NAME
"""
RECORDS_INPUTS = """
mark("ran", json.dumps(sorted(context["inputs"])))
return context["inputs"]
"""
PRODUCER = """
tally(os.getpid())                   # ~3 s of work that spans the other cancel's escalation
values = []
for step in range(60):
    values.append(step * step)
    time.sleep(0.05)
return values
"""


def plugin(body, out_dir, name, hook, **extras):
    return plugin_source(name, hook, body=body, imports=["json"], out=out_dir, **extras)


@contextmanager
def background_run(store_env, project, pipeline):
    """`dataflow run PIPELINE --json` in its own process, as a user starts it."""
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "run", pipeline, "--json"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def cancel_latency(project_dir, run_id: str, plugin: str) -> float:
    """Seconds from the stored cancel request to the task's stored end."""
    project = Project(project_dir)
    request = project.db["cancel_requests"].find_one({"run_id": run_id})
    task = project.db["tasks"].find_one({"run_id": run_id, "plugin": plugin})
    project.close()
    return (task["finished"] - request["requested"]).total_seconds()


def test_cli_cancel_stops_a_cooperative_plugin_and_its_queued_hook(make_project, cli, store_env,
                                                                   out_dir):
    project = make_project("pipelines:\n  coop:\n    hooks: [first, second]\n", {
        "coop": plugin(COOPERATIVE, out_dir, "coop", "first", code=CANCEL_HOOK),
        "later": plugin(RECORDS_INPUTS, out_dir, "later", "second")}, system=SYSTEM)
    with background_run(store_env, project, "coop") as running:
        started = wait_until(lambda: out_dir.read("coop", "started"), 60, message="coop to start")
        plugin_pid, run_id = started.split()
        cancelled = cli("cancel", run_id[:10], project=project)
        stdout, stderr = running.communicate(timeout=60)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert f"run {run_id}: cancelled" in cancelled.stdout
    assert running.returncode == 4, stdout + stderr
    assert json.loads(stdout)["status"] == "cancelled"
    assert out_dir.read("coop", "saw_cancelled") == plugin_pid, "context.cancelled() turned true"
    assert out_dir.read("coop", "cancel_pid") == plugin_pid, "cancel() ran where the plugin ran"
    assert int(plugin_pid) not in (os.getpid(), running.pid), "the plugin ran on a worker"
    assert out_dir.read("later", "ran") is None, "the queued hook never started"
    shown = json.loads(cli("show", run_id, "--json", project=project).stdout)
    assert shown["status"] == "cancelled"
    assert {t["plugin"]: t["status"] for t in shown["tasks"]} == {
        "coop": "cancelled", "later": "cancelled"}
    latency = cancel_latency(project, run_id, "coop")
    print(f"\ncancel latency, cooperative plugin: {latency:.2f}s (request → cancelled)")
    assert latency < 5
    unknown = cli("cancel", "feedfacedeadbeef", project=project)
    assert unknown.returncode == 1 and "feedfacedeadbeef" in unknown.stderr


def test_cli_cancel_of_one_plugin_leaves_its_siblings_running(make_project, cli, store_env,
                                                               out_dir):
    project = make_project("pipelines:\n  family:\n    hooks: [first, second]\n", {
        "loner": plugin(COOPERATIVE, out_dir, "loner", "first", code=CANCEL_HOOK),
        "sibling": plugin(WAITS_FOR_RELEASE, out_dir, "sibling", "first"),
        "after": plugin(RECORDS_INPUTS, out_dir, "after", "second")}, system=SYSTEM)
    with background_run(store_env, project, "family") as running:
        wait_until(lambda: out_dir.read("sibling", "started"), 60, message="sibling to start")
        run_id = wait_until(lambda: out_dir.read("loner", "started"), 30).split()[1]
        cancelled = cli("cancel", run_id, "--plugin", "loner", project=project)
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        assert f"plugin loner of run {run_id}: cancelled" in cancelled.stdout
        shown = json.loads(cli("show", run_id, "--json", project=project).stdout)
        assert {t["plugin"]: t["status"] for t in shown["tasks"]} == {
            "loner": "cancelled", "sibling": "running", "after": "pending"}
        out_dir.release()
        stdout, stderr = running.communicate(timeout=60)
    result = json.loads(stdout)
    assert {task["plugin"]: task["status"] for task in result["tasks"].values()} == {
        "loner": "cancelled", "sibling": "completed", "after": "completed"}, stderr
    assert json.loads(out_dir.read("after", "ran")) == ["sibling"], "the next hook still ran"
    assert out_dir.read("loner", "cancel_pid") == out_dir.read("loner", "saw_cancelled")
    print(f"\ncancel latency, one plugin: {cancel_latency(project, run_id, 'loner'):.2f}s")
    again = cli("cancel", run_id, project=project)
    assert again.returncode == 1, "a finished run cannot be cancelled"
    assert f"run {run_id} is not running (status completed_with_errors)" in again.stderr
    assert "Traceback" not in again.stdout + again.stderr


def test_hard_stop_of_a_plugin_ignoring_cancel_leaves_another_run_unharmed(
        make_project, engine_for, dask_client, out_dir):
    project = make_project(
        "pipelines:\n  stuck:\n    hooks: [work]\n  steady:\n    hooks: [produce, consume]\n", {
            "stubborn": plugin(WAITS_FOR_RELEASE, out_dir, "stubborn", "work"),
            "producer": plugin(PRODUCER, out_dir, "producer", "produce"),
            "consumer": plugin(RECORDS_INPUTS, out_dir, "consumer", "consume")}, system=SYSTEM)
    engine = engine_for(project)
    stuck = engine.start("stuck")
    stubborn_pid = int(wait_until(lambda: out_dir.read("stubborn", "started"), 30).split()[0])
    steady = engine.start("steady")
    wait_until(lambda: out_dir.count("producer"), 30, message="the other run to start")
    asked = time.monotonic()
    engine.cancel(stuck.run_id)
    result = engine.wait(stuck, timeout=30)
    latency = time.monotonic() - asked
    print(f"\ncancel latency, plugin ignoring cancel (grace 1 s): {latency:.2f}s")
    assert (result.status, result.tasks["work.stubborn"]["status"]) == ("cancelled", "cancelled")
    assert "stopped hard" in result.tasks["work.stubborn"]["error"]
    assert 1.0 <= latency < 1.0 + 3.0, "stopped after the grace period, not long after"
    other = engine.wait(steady, timeout=60)
    assert other.status == "completed", other.error
    assert other.output("consumer", timeout=RUN_TIMEOUT) == {
        "producer": [step * step for step in range(60)]}
    assert stubborn_pid in dask_client.run(os.getpid).values(), "its worker was not killed"


def test_queued_run_cancelled_on_a_saturated_cluster_never_starts(make_project, engine_for,
                                                                  out_dir):
    project = make_project(
        "pipelines:\n  block:\n    hooks: [hold]\n  victim:\n    hooks: [only]\n", {
            "hold_a": plugin(WAITS_FOR_RELEASE, out_dir, "hold_a", "hold"),
            "hold_b": plugin(WAITS_FOR_RELEASE, out_dir, "hold_b", "hold"),
            "victim": plugin(RECORDS_INPUTS, out_dir, "victim", "only")}, system=SYSTEM)
    engine = engine_for(project)
    blocker = engine.start("block")
    for name in ("hold_a", "hold_b"):
        wait_until(lambda: out_dir.read(name, "started"), 30, message=f"{name} to hold a worker")
    victim = engine.start("victim")
    engine.cancel(victim.run_id)
    result = engine.wait(victim, timeout=10)
    assert (result.status, result.tasks["only.victim"]["status"]) == ("cancelled", "cancelled")
    out_dir.release()
    assert engine.wait(blocker, timeout=30).status == "completed", "the blocking run is unharmed"
    assert out_dir.read("victim", "ran") is None, "the cancelled task never ran, even once free"


def test_cancel_of_a_queued_plugin_leaves_the_rest_of_its_run_alone(make_project, engine_for,
                                                                    out_dir):
    project = make_project("pipelines:\n  partial:\n    hooks: [produce, consume]\n", {
        "producer": plugin(PRODUCER, out_dir, "producer", "produce"),
        "dropped": plugin(RECORDS_INPUTS, out_dir, "dropped", "consume"),
        "kept": plugin(RECORDS_INPUTS, out_dir, "kept", "consume")},
        system="cluster:\n  cancel_grace_seconds: 0.2\n")
    engine = engine_for(project)
    handle = engine.start("partial")
    wait_until(lambda: out_dir.count("producer"), 30, message="the producer to start")
    engine.cancel(handle.run_id, plugin="dropped")
    result = engine.wait(handle, timeout=60)
    assert {task["plugin"]: task["status"] for task in result.tasks.values()} == {
        "producer": "completed", "dropped": "cancelled", "kept": "completed"}
    assert out_dir.read("dropped", "ran") is None and out_dir.read("kept", "ran") == '["producer"]'
    assert out_dir.count("producer") == 1, "the producer ran once, undisturbed"


def test_deadline_marks_a_plugin_that_runs_too_long_timed_out(make_project, engine_for, out_dir):
    project = make_project("pipelines:\n  slow:\n    hooks: [only]\n", {
        "dawdler": plugin(WAITS_FOR_RELEASE, out_dir, "dawdler", "only", DEADLINE=1)},
        system="cluster:\n  cancel_grace_seconds: 0.5\n")
    begun, engine = time.monotonic(), engine_for(project)
    result = engine.wait(engine.start("slow"), timeout=30)
    took = time.monotonic() - begun
    assert result.tasks["only.dawdler"]["status"] == "timed_out"
    assert out_dir.read("dawdler", "started") and out_dir.read("dawdler", "finished") is None
    assert took < 1 + 0.5 + 4, f"stopped soon after its 1 s deadline, took {took:.1f}s"
    print(f"\ndeadline 1 s: run ended after {took:.2f}s")
