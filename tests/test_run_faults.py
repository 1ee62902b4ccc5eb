"""Run faults as a user meets them through `dataflow run`: a plugin past its DEADLINE that
cannot be stopped softly (stuck in C code, or swallowing every exception) and a plugin that
kills its own worker. Each keeps its reason, its downstream follows the FAIL_HARD rules, and
no traceback reaches the user."""
from __future__ import annotations

import json

from conftest import RUN_TIMEOUT, plugin_source

PIPELINES = "pipelines:\n  p:\n    hooks: [first, second]\n"
# cancel_grace_seconds: the hard stop comes 1 s after the deadline
SYSTEM = "cluster:\n  cancel_grace_seconds: 1\n"

SLEEPS = """
mark("started")
time.sleep(120)
"""
SWALLOWS = """
mark("started")
deadline = time.time() + 120
while time.time() < deadline:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
"""
DIES = """
tally()
os._exit(3)
"""
AFTER = """
tally()
return sorted(context["inputs"])
"""


def project_with(make_project, out_dir, body, fail_hard, system=SYSTEM, **constants):
    return make_project(PIPELINES, {
        "stuck": plugin_source("stuck", "first", body=body, out=out_dir, FAIL_HARD=fail_hard,
                               **constants),
        "sibling": plugin_source("sibling", "first", body="return 1"),
        "after": plugin_source("after", "second", body=AFTER, out=out_dir)}, system=system)


def run_json(cli, project) -> tuple[dict, str]:
    done = cli("run", "p", "--json", project=project, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "CommClosedError" not in done.stdout + done.stderr, done.stderr
    assert "KilledWorker" not in done.stderr, done.stderr
    return json.loads(done.stdout), done.stderr


def tasks_of(result: dict) -> dict:
    return {task_id.split(".")[1]: task for task_id, task in result["tasks"].items()}


def test_a_deadline_in_c_code_times_out_and_a_lenient_downstream_runs(make_project, cli,
                                                                       out_dir):
    project = project_with(make_project, out_dir, SLEEPS, fail_hard=False, DEADLINE=3)
    result, _ = run_json(cli, project)
    tasks = tasks_of(result)
    assert tasks["stuck"]["status"] == "timed_out", tasks["stuck"]
    assert "timed_out" in tasks["stuck"]["error"] and "restarted" in tasks["stuck"]["error"]
    assert tasks["sibling"]["status"] == "completed"
    assert tasks["after"]["status"] == "completed", tasks["after"]
    assert out_dir.count("after") == 1
    assert out_dir.count("stuck") == 0 and out_dir.read("stuck", "started") is not None
    assert result["status"] == "completed_with_errors"


def test_a_deadline_ignoring_the_hard_stop_of_a_fail_hard_plugin_skips_downstream(
        make_project, cli, out_dir):
    project = project_with(make_project, out_dir, SWALLOWS, fail_hard=True, DEADLINE=3)
    result, _ = run_json(cli, project)
    tasks = tasks_of(result)
    assert tasks["stuck"]["status"] == "timed_out", tasks["stuck"]
    assert tasks["after"]["status"] == "skipped", tasks["after"]
    assert "stuck (first) stopped the pipeline" in tasks["after"]["error"]
    assert out_dir.count("after") == 0
    assert result["status"] == "failed"


def test_a_plugin_killing_its_worker_runs_twice_and_a_fail_hard_one_skips_downstream(
        make_project, cli, out_dir):
    project = project_with(make_project, out_dir, DIES, fail_hard=True)
    result, _ = run_json(cli, project)
    tasks = tasks_of(result)
    assert out_dir.count("stuck") == 2, "one retry after a worker death, by default"
    assert tasks["stuck"]["status"] == "failed"
    assert "worker died" in tasks["stuck"]["error"]
    attempts = tasks["stuck"]["attempts"]
    assert [a["error"] for a in attempts] == ["worker died", "worker died"], attempts
    assert tasks["after"]["status"] == "skipped", tasks["after"]
    assert "stuck (first) stopped the pipeline" in tasks["after"]["error"]
    assert out_dir.count("after") == 0
    assert result["status"] == "failed"


def test_worker_death_retries_are_configurable_and_a_lenient_downstream_runs(
        make_project, cli, out_dir):
    system = SYSTEM + "retry:\n  worker_death_retries: 2\n"
    project = project_with(make_project, out_dir, DIES, fail_hard=False, system=system)
    result, _ = run_json(cli, project)
    tasks = tasks_of(result)
    assert out_dir.count("stuck") == 3
    assert tasks["stuck"]["status"] == "failed" and len(tasks["stuck"]["attempts"]) == 3
    assert tasks["after"]["status"] == "completed", tasks["after"]
    assert result["status"] == "completed_with_errors"


def test_a_task_run_again_after_its_worker_died_shows_both_attempts(make_project, cli,
                                                                   out_dir):
    once = """
    if tally() == 1:
        os._exit(3)
    return 5
    """
    project = project_with(make_project, out_dir, once, fail_hard=True,
                           RETRY={"worker_death_retries": 1})
    result, _ = run_json(cli, project)
    tasks = tasks_of(result)
    assert tasks["stuck"]["status"] == "completed"
    assert [a["error"] for a in tasks["stuck"]["attempts"]] == ["worker died", None]
    assert tasks["after"]["status"] == "completed"
    assert result["status"] == "completed"


def test_a_scheduler_giving_up_first_still_records_worker_died(make_project, engine_for,
                                                               out_dir):
    """More worker-death retries than the cluster's allowed-failures (the session's cluster
    keeps Dask's 3): Dask gives up (KilledWorker) and the orchestrator settles it."""
    project = project_with(make_project, out_dir, DIES, fail_hard=True,
                           RETRY={"worker_death_retries": 9})
    result = engine_for(project).run("p", timeout=RUN_TIMEOUT)
    tasks = {task_id.split(".")[1]: task for task_id, task in result.tasks.items()}
    assert out_dir.count("stuck") == 4, "Dask's allowed-failures (3) + 1"
    assert tasks["stuck"]["status"] == "failed" and "worker died" in tasks["stuck"]["error"]
    assert tasks["after"]["status"] == "skipped", tasks["after"]
    assert "stuck (first) stopped the pipeline" in tasks["after"]["error"]
    assert result.status == "failed"
