"""One resume of a run at a time, and once: `dataflow resume ID` twice at the same moment
runs it once (the other is refused naming the resume under way); a run already resumed
is refused naming the run that resumed it, unless `--again`; a lease left by a killed
resume expires."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pymongo
import pytest
from conftest import RUN_TIMEOUT, ok, plugin_source, refused, wait_until

# Fails until OUT/fixed exists; then, while OUT/hold exists, waits for OUT/go.
FLAKY = """
count = tally(context["run_id"])
if not os.path.exists(os.path.join(OUT, "fixed")):
    raise RuntimeError("broken on purpose")
if os.path.exists(os.path.join(OUT, "hold")):
    mark("waiting", count)
    wait_for("go", seconds=120)
return 1
"""


@pytest.fixture
def failed_run(make_project, engine_for, out_dir, store_env):
    project = make_project("pipelines:\n  p:\n    hooks: [a, b]\n", {
        "flaky": plugin_source("flaky", "a", body=FLAKY, out=out_dir, FAIL_HARD=True),
        "after": plugin_source("after", "b", body="tally()\nreturn 2", out=out_dir)})
    engine = engine_for(project)
    failed = engine.run("p", timeout=RUN_TIMEOUT)
    engine.project.recorder.flush()
    assert failed.status == "failed", failed.tasks
    db = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])[store_env["DATAFLOW_MONGO_DB"]]
    yield {"project": project, "run_id": failed.run_id, "out": out_dir, "db": db,
           "env": {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}}
    db.client.close()


def test_a_resumed_run_is_resumed_again_only_with_again(failed_run, cli):
    project, run_id, out = failed_run["project"], failed_run["run_id"], failed_run["out"]
    out.touch("fixed")
    ok(cli("resume", run_id[:12], project=project))
    first = failed_run["db"]["runs"].find_one({"_id": run_id})["resumed_by"]
    assert out.count("after") == 1
    twice = refused(cli("resume", run_id[:12], project=project),
                    f"run {run_id} was already resumed by run {first}", "--again")
    assert "Traceback" not in twice.stdout + twice.stderr
    assert out.count("after") == 1, "the refused resume ran nothing"
    again = ok(cli("resume", run_id[:12], "--again", project=project))
    assert out.count("after") == 2
    second = failed_run["db"]["runs"].find_one({"_id": run_id})["resumed_by"]
    assert second != first and second in again.stdout


def test_two_resumes_at_once_run_it_once(failed_run, cli, tmp_path):
    project, run_id, out = failed_run["project"], failed_run["run_id"], failed_run["out"]
    out.touch("fixed")
    out.touch("hold")
    with open(tmp_path / "first.out", "w") as sink:
        first = subprocess.Popen([sys.executable, "-m", "dataflow", "resume", run_id],
                                 env=failed_run["env"], stdout=sink, stderr=sink)
    try:
        wait_until(lambda: out.read("flaky", "waiting"), 120, message="the first resume")
        resumer = failed_run["db"]["runs"].find_one({"_id": run_id})["resumed_by"]
        second = cli("resume", run_id, project=project)
        refused(second, f"run {run_id} is being resumed right now as run {resumer}")
        out.touch("go")
        assert first.wait(RUN_TIMEOUT) == 0, (tmp_path / "first.out").read_text()
    finally:
        out.release()
        if first.poll() is None:
            first.kill()
            first.wait(30)
    assert out.count("flaky") == 2 and out.count("after") == 1, "resumed once"
    assert failed_run["db"]["resume_leases"].count_documents({}) == 0, "the lease is given up"


def test_a_lease_left_by_a_killed_resume_expires(failed_run, cli):
    project, run_id, out = failed_run["project"], failed_run["run_id"], failed_run["out"]
    out.touch("fixed")
    past = datetime.now(timezone.utc) - timedelta(seconds=5)
    failed_run["db"]["resume_leases"].insert_one(
        {"_id": run_id, "token": "dead", "pid": 1, "host": "gone", "expires": past})
    ok(cli("resume", run_id, project=project))
    assert out.count("after") == 1
