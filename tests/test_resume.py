"""Resume as a user does it: `dataflow resume` after a failed plugin (completed tasks are not
run again, their checkpointed outputs flow downstream), `--failed-only`, `dataflow
mark-success`; a worker killed mid-task; a `dataflow run` killed with SIGKILL (found
`interrupted`, then resumed). Each plugin appends a line to a counter file each time it runs."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import psutil
import pymongo
import pytest
from conftest import RUN_TIMEOUT, plugin_source, wait_until

# Plugin bodies (plugin_source with out=out_dir); each tallies the run it ran in.
SOURCE = """
tally(context["run_id"])
return VALUE
"""

# Until the file `fixed` exists it fails, or (WAIT) logs, leaves its pid and waits for it.
COMBINE = """
tally(context["run_id"])
context["services"]["log"].info("combining on pid %d" % os.getpid())
mark("pid", os.getpid())
if WAIT:
    wait_for("fixed", seconds=60)
if not os.path.exists(os.path.join(OUT, "fixed")):
    raise RuntimeError(PLUGIN_NAME + " broke on purpose")
inputs = context["inputs"]
return {"inputs": sorted(inputs), "total": sum(inputs.get("nums", [])),
        "text": inputs.get("letters", "").upper()}
"""

PUBLISH = """
tally(context["run_id"])
mark("inputs", json.dumps(context["inputs"]))
"""

PIPELINES = "pipelines:\n  etl:\n    hooks: [load, transform, publish]\n"
PUBLISHED = {"combine": {"inputs": ["letters", "nums"], "total": 6, "text": "ABC"}}


def write_project(make_project, out_dir, wait: bool):
    def plugin(name, hook, body, **constants):
        return plugin_source(name, hook, body=body, imports=["json"], out=out_dir, **constants)
    return make_project(PIPELINES, {
        "nums": plugin("nums", "load", SOURCE, VALUE=[1, 2, 3]),
        "letters": plugin("letters", "load", SOURCE, VALUE="abc"),
        "combine": plugin("combine", "transform", COMBINE, FAIL_HARD=True, WAIT=wait),
        "publish": plugin("publish", "publish", PUBLISH)})


def runs(out_dir) -> dict:
    """How many times each plugin really ran."""
    return {name: out_dir.count(name) for name in ("nums", "letters", "combine", "publish")}


def published(out_dir):
    """The inputs `publish` got."""
    return json.loads(out_dir.read("publish", "inputs"))


def new_run_id(stdout: str) -> str:
    found = re.search(r"^run ([0-9a-f]{32}) of etl: ", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)


@pytest.fixture
def etl(make_project, engine_for, out_dir):
    """A failed run of etl: nums and letters completed, combine (fail-hard) failed."""
    project = write_project(make_project, out_dir, wait=False)
    engine = engine_for(project)
    failed = engine.run("etl", timeout=RUN_TIMEOUT)
    engine.project.recorder.flush()
    assert failed.status == "failed", failed.tasks
    assert failed.tasks["publish.publish"]["status"] == "skipped"
    return {"project": project, "out": out_dir, "run_id": failed.run_id, "engine": engine}


def show(cli, project, run_id) -> dict:
    shown = cli("show", run_id, "--json", project=project)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_resume_after_a_failed_plugin_reuses_completed_tasks(etl, cli):
    project, out, old_id = etl["project"], etl["out"], etl["run_id"]
    out.touch("fixed")
    resumed = cli("resume", old_id[:12], project=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "2 task(s) restored from checkpoints, 2 to run" in resumed.stdout
    assert runs(out) == {"nums": 1, "letters": 1, "combine": 2, "publish": 1}
    assert published(out) == PUBLISHED, \
        "restored outputs reached combine, and combine's output reached publish"
    new_id = new_run_id(resumed.stdout)
    assert new_id != old_id
    new = show(cli, project, new_id)
    assert new["status"] == "completed" and new["resumed_from"] == old_id
    assert new["trigger"] == "resume"
    reused = {task["plugin"]: task.get("reused") for task in new["tasks"]}
    assert reused == {"nums": "checkpoint", "letters": "checkpoint", "combine": None,
                      "publish": None}
    old = show(cli, project, old_id)
    assert old["status"] == "failed" and old["resumed_by"] == new_id


def test_resume_failed_only_skips_what_did_not_fail(etl, cli):
    project, out, old_id = etl["project"], etl["out"], etl["run_id"]
    out.touch("fixed")
    resumed = cli("resume", old_id, "--failed-only", project=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert runs(out) == {"nums": 1, "letters": 1, "combine": 2, "publish": 0}
    tasks = {t["plugin"]: t for t in show(cli, project, new_run_id(resumed.stdout))["tasks"]}
    assert tasks["combine"]["status"] == "completed"
    assert tasks["publish"]["status"] == "skipped"
    assert "resume --failed-only" in tasks["publish"]["error"]


def test_mark_success_lets_resume_skip_a_plugin(etl, cli):
    project, out, old_id = etl["project"], etl["out"], etl["run_id"]
    marked = cli("mark-success", old_id[:12], "--plugin", "combine", project=project)
    assert marked.returncode == 0, marked.stderr
    assert f"marked combine of run {old_id} as completed" in marked.stdout
    resumed = cli("resume", old_id, project=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert runs(out) == {"nums": 1, "letters": 1, "combine": 1, "publish": 1}, \
        "combine was not re-run"
    assert published(out) == {}, \
        "a task marked successful has no output to pass on"
    tasks = {t["plugin"]: t for t in show(cli, project, new_run_id(resumed.stdout))["tasks"]}
    assert tasks["combine"]["status"] == "completed"
    assert tasks["combine"]["reused"] == "marked_success"
    unknown = cli("mark-success", old_id, "--plugin", "nobody", project=project)
    assert unknown.returncode == 1 and "has no plugin 'nobody'" in unknown.stderr


def test_resume_of_a_completed_run_is_a_clear_error(etl, cli):
    etl["out"].touch("fixed")
    engine = etl["engine"]
    done = engine.run("etl", timeout=RUN_TIMEOUT)
    engine.project.recorder.flush()
    assert done.status == "completed"
    refused = cli("resume", done.run_id[:12], project=etl["project"])
    assert refused.returncode == 1
    assert f"run {done.run_id} is completed; only runs that are failed" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    unknown = cli("resume", "feedfacedeadbeef", project=etl["project"])
    assert unknown.returncode == 1 and "feedfacedeadbeef" in unknown.stderr, unknown.stderr


@pytest.fixture
def held(make_project, store_env, out_dir, tmp_path):
    """`dataflow run etl --json` in its own process, as a user starts it, with `combine`
    running (waiting for the file `fixed`) and the load hook's tasks stored completed."""
    project = write_project(make_project, out_dir, wait=True)
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    db = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])[store_env["DATAFLOW_MONGO_DB"]]
    output = tmp_path / "run.out"      # files, not pipes: orphans must not hold them open
    with open(output, "w") as sink, open(tmp_path / "run.err", "w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "dataflow", "run", "etl", "--json"],
                                   env=env, stdout=sink, stderr=errors)
    try:
        wait_until(lambda: out_dir.read("combine", "pid"), 90, message="combine to start")
        run_id = out_dir.read("combine", "count").split()[0]
        wait_until(lambda: db["tasks"].count_documents({"run_id": run_id, "status": "completed"})
                   == 2 and db["logs"].find_one({"run_id": run_id}), 30, message="the history")
        yield {"project": project, "out": out_dir, "db": db, "run": process, "run_id": run_id,
               "pid": int(out_dir.read("combine", "pid")), "output": output}
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        db.client.close()


def test_a_killed_worker_loses_no_records_and_completed_tasks_do_not_rerun(held, cli):
    out, run_id, first_pid = held["out"], held["run_id"], held["pid"]
    os.kill(first_pid, signal.SIGKILL)
    wait_until(lambda: not psutil.pid_exists(first_pid), 30, message="the worker to die")
    out.touch("fixed")
    held["run"].wait(120)
    status = json.loads(stdout := held["output"].read_text())["status"]
    if status == "failed":
        resumed = cli("resume", run_id, project=held["project"])
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    else:
        assert (status, held["run"].returncode) == ("completed", 0), stdout
    second_pid = int(out.read("combine", "pid"))
    assert second_pid != first_pid, "Dask ran the task again on a live worker"
    messages = [r["message"] for r in held["db"]["logs"].find({"run_id": run_id})]
    assert messages == [f"combining on pid {first_pid}", f"combining on pid {second_pid}"], \
        "the record logged before the kill is kept, and the second attempt's too"
    assert published(out) == PUBLISHED
    assert not list(held["db"]["tasks"].find({"status": {"$in": ["running", "pending"]}}))
    assert runs(out) == {"nums": 1, "letters": 1, "combine": 2, "publish": 1}, \
        "a completed task whose output died with the worker ran again instead of its checkpoint"


def test_a_killed_orchestrator_leaves_an_interrupted_run_that_resumes(held, cli):
    out, run_id, project = held["out"], held["run_id"], held["project"]
    held["run"].send_signal(signal.SIGKILL)
    held["run"].wait(30)
    wait_until(lambda: not psutil.pid_exists(held["pid"]), 90,
               message="the orphaned worker to exit with its orchestrator")
    listed = json.loads(cli("runs", "--json", project=project).stdout)
    assert [(r["_id"], r["status"]) for r in listed] == [(run_id, "interrupted")]
    tasks = {t["plugin"]: t["status"] for t in show(cli, project, run_id)["tasks"]}
    assert tasks == {"nums": "completed", "letters": "completed", "combine": "interrupted",
                     "publish": "interrupted"}
    out.touch("fixed")
    resumed = cli("resume", run_id[:12], project=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert runs(out) == {"nums": 1, "letters": 1, "combine": 2, "publish": 1}
    assert published(out) == PUBLISHED
    assert show(cli, project, new_run_id(resumed.stdout))["resumed_from"] == run_id
