"""The jobs service seen from a plugin (`context["services"]["jobs"]`) and from outside: results
of submit / map / gather / as_completed, readable Dask keys, progress in the task record,
no worker slot held while waiting, and jobs cancelled together with their plugin."""
from __future__ import annotations

import json
import re
import time

from conftest import RUN_TIMEOUT, plugin_source, wait_until

PIPELINES = """
pipelines:
  api:
    hooks: [fan]
  pair:
    hooks: [both]
  doomed:
    hooks: [spray]
"""

# Each plugin's top-level code (job functions, cancel) and its run() body: plugin() below.
JOBS_API = dict(code="""
def square(x):
    return x * x
def add(x, y, offset=0):
    return x + y + offset
def wait_for_release():
    wait_for("release")
    return "released"
""", body="""
jobs = context["services"]["jobs"]
waiter = jobs.submit(wait_for_release, name="waiter")
one = jobs.submit(add, 2, 3, offset=10, name="single")
many = jobs.map(square, range(10), name="squares")
pairs = jobs.map(add, [1, 2, 3], [10, 20, 30], priority="high")
streamed = sorted(result for _, result in jobs.as_completed(many, with_results=True))
finished = sorted(future.result() for future in jobs.as_completed(pairs))
return {"single": jobs.gather(one), "squares": jobs.gather(many), "streamed": streamed,
        "pairs": finished, "waiter": jobs.gather([waiter])[0],
        "keys": [one.key, many[0].key, pairs[0].key]}
""")

FAN_AND_GATHER = dict(code="""
def cube(x):
    time.sleep(0.05)
    return x ** 3
""", body="""
jobs = context["services"]["jobs"]
return sum(jobs.gather(jobs.map(cube, range(12), name="cubes")))
""")

SPRAY = dict(code="""
def slow_job(index):
    time.sleep(0.1)
    open(os.path.join(OUT, "jobs", str(index)), "w").close()
def cancel():
    mark("cancel_called", os.getpid())
""", body="""
jobs = context["services"]["jobs"]
futures = jobs.map(slow_job, range(200), name="slow")
mark("submitted", context["run_id"])
jobs.gather(futures)
return "all 200 done"
""")


def plugin(code_and_body, out_dir, name, hook):
    """Plugin source; it leaves files NAME.WHAT in `out_dir` so the test sees what it did.
    Names of plugins that submit jobs are unique in the suite: workers find job functions
    by module name."""
    return plugin_source(name, hook, out=out_dir, **code_and_body)


def job_keys(client, prefix: str) -> list[str]:
    """Keys of jobs being processed on the cluster that start with `prefix`."""
    return [key for keys in client.processing().values() for key in keys
            if isinstance(key, str) and key.startswith(prefix)]


def test_jobs_api_results_keys_and_progress(make_project, engine_for, dask_client, out_dir):
    project = make_project(PIPELINES, {
        "job_lister": plugin(JOBS_API, out_dir, "job_lister", "fan")})
    engine = engine_for(project)
    handle = engine.start("api")
    seen = wait_until(lambda: job_keys(dask_client, "job:job_lister:waiter-"), 30,
                      message="the waiter job to show up on the cluster")
    assert handle.run_id[:8] in seen[0], f"the key names plugin, job and run: {seen[0]}"
    out_dir.release()
    result = engine.wait(handle, timeout=60)
    assert result.status == "completed", result.error
    output = result.output("job_lister", timeout=RUN_TIMEOUT)
    assert output["single"] == 15 and output["waiter"] == "released"
    assert output["squares"] == [x * x for x in range(10)]
    assert output["streamed"] == sorted(output["squares"])
    assert output["pairs"] == [11, 22, 33]
    single, square, pair = output["keys"]
    assert single.startswith("job:job_lister:single-")
    assert square.startswith("job:job_lister:squares-")
    assert pair.startswith("job:job_lister:add-"), "without a name the function names the job"
    engine.project.recorder.flush()
    task = engine.project.db["tasks"].find_one({"run_id": result.run_id})
    assert task["progress"] == {"done": 15, "total": 15}, "1 waiter + 1 + 10 + 3 jobs"


def test_progress_is_shown_by_the_cli(make_project, cli, out_dir):
    project = make_project(PIPELINES, {
        "job_tally": plugin(FAN_AND_GATHER, out_dir, "job_tally", "both")})
    result = cli("run", "pair", project=project, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^both\s+job_tally\s+completed .*jobs 12/12", result.stdout,
                     re.M), result.stdout
    run_id = json.loads(cli("runs", "--json", project=project).stdout)[0]["_id"]
    shown = json.loads(cli("show", run_id, "--json", project=project).stdout)
    assert shown["tasks"][0]["progress"] == {"done": 12, "total": 12}


def test_plugins_waiting_on_their_jobs_hold_no_worker_slot(make_project, engine_for, out_dir):
    """Two workers, two plugins each gathering 12 jobs: holding slots would deadlock."""
    project = make_project(PIPELINES, {
        name: plugin(FAN_AND_GATHER, out_dir, name, "both")
        for name in ("fan_left", "fan_right")})
    engine = engine_for(project)
    first, second = engine.start("pair"), engine.start("pair")
    begun = time.monotonic()
    for handle in (first, second):
        result = engine.wait(handle, timeout=60)
        assert result.status == "completed", result.error
        expected = sum(x ** 3 for x in range(12))
        outputs = result.outputs(timeout=RUN_TIMEOUT)
        assert outputs["both.fan_left"] == outputs["both.fan_right"] == expected
    print(f"\n2 runs x 2 plugins x 12 jobs on 2 workers: {time.monotonic() - begun:.2f}s")


def test_jobs_are_cancelled_with_their_plugin(make_project, engine_for, dask_client, out_dir):
    (out_dir / "jobs").mkdir()
    project = make_project(PIPELINES, {
        "job_sprayer": plugin(SPRAY, out_dir, "job_sprayer", "spray")},
        system="cluster:\n  cancel_grace_seconds: 1\n")
    engine = engine_for(project)
    handle = engine.start("doomed")
    wait_until(lambda: len(list((out_dir / "jobs").iterdir())) >= 5, 30,
               message="the first jobs to finish")
    asked = time.monotonic()
    engine.cancel(handle.run_id)
    result = engine.wait(handle, timeout=30)
    latency = time.monotonic() - asked
    assert result.status == "cancelled"
    assert result.tasks["spray.job_sprayer"]["status"] == "cancelled"
    assert out_dir.read("job_sprayer", "cancel_called"), "its cancel() was called too"
    wait_until(lambda: not job_keys(dask_client, "job:job_sprayer:"), 10,
               message="no job of the cancelled plugin left on the cluster")
    ran = len(list((out_dir / "jobs").iterdir()))
    print(f"\ncancel latency, plugin with 200 jobs: {latency:.2f}s; {ran}/200 jobs ran")
    assert ran < 100, f"{ran} of 200 jobs ran after their plugin was cancelled"
