"""Plugin logs as a user sees them: `context["services"]["log"]` at every level with extra
fields, a plugin's own `print` and `logging` captured, records from worker processes kept in
order per plugin, `dataflow logs` with its filters and `--follow`, the per-run file under
`logs/`, the echo of `dataflow run`, and `log.fatal` stopping the pipeline."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import RUN_TIMEOUT, plugin_source, wait_until

SYSTEM = "logging:\n  level: DEBUG\n"

# Waits until its SIBLING has started too: both must be running at once, on two workers.
CHATTY = """
log = context["services"]["log"]
mark("pid", os.getpid())
wait_for(SIBLING + ".pid")
log.debug("a debug record", step=0)
log.info("an info record", rows=3, ratio=0.5, name="x", thing=object())
log.warning("a warning record", rows=4)
log.error("an error record", code=42)
print("printed by " + PLUGIN_NAME)
logging.getLogger("thirdparty.lib").warning("logged through logging: %s", 7)
for number in range(1, 51):
    log.info("count %d" % number, number=number)
return PLUGIN_NAME
"""

TICKER = """
log = context["services"]["log"]
mark("run_id", context["run_id"])
log.info("tick 1")
wait_for("release")
for number in range(2, 6):
    log.info("tick %d" % number)
    time.sleep(0.05)
return "done"
"""

FATAL = """
context["services"]["log"].fatal("cannot go on", reason="corrupt input")
mark("after_fatal")
"""


def plugin(body, out_dir, name, hook, pipeline, **constants):
    return plugin_source(name, hook, pipeline, body, imports=["logging"], out=out_dir,
                         **constants)


def counts(text: str, plugin_id: str) -> list[int]:
    """The numbers of the `count N` records of one plugin, in printed order."""
    return [int(n) for n in re.findall(rf"/{plugin_id}: count (\d+) ", text)]


def run_id_of(stdout: str, pipeline: str) -> str:
    found = re.search(rf"run ([0-9a-f]{{32}}) of {pipeline}", stdout)
    assert found, stdout
    return found.group(1)


def test_records_from_two_workers_reach_logs_file_and_terminal(make_project, cli, out_dir):
    project = make_project("pipelines:\n  talk:\n    hooks: [first]\n", {
        "left": plugin(CHATTY, out_dir, "left", "first", "talk", SIBLING="right"),
        "right": plugin(CHATTY, out_dir, "right", "first", "talk", SIBLING="left")},
        system=SYSTEM)
    ran = cli("run", "talk", project=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout, "talk")
    pids = {out_dir.read(name, "pid") for name in ("left", "right")}
    assert len(pids) == 2 and str(os.getpid()) not in pids, \
        "the two plugins ran at once in two worker processes"
    for name in ("left", "right"):
        assert f"INFO    {name}: count 50" in ran.stdout, "records are echoed by `dataflow run`"
        assert f"ERROR   {name}: an error record" in ran.stdout
    logs = cli("logs", run_id[:10], project=project)
    assert logs.returncode == 0, logs.stderr
    for name in ("left", "right"):
        assert counts(logs.stdout, name) == list(range(1, 51)), f"{name}'s records in order"
    file_text = (project / "logs" / f"{run_id}.log").read_text()
    for name in ("left", "right"):
        assert counts(file_text, name) == list(range(1, 51)), "the per-run file has them too"
    check_one_plugin_records(cli, project, run_id)


def check_one_plugin_records(cli, project, run_id):
    left = cli("logs", run_id, "--plugin", "left", project=project).stdout
    assert "/right:" not in left and "/left:" in left, "--plugin keeps one plugin's records"
    lines = left.splitlines()

    def line(text):
        found = [entry for entry in lines if text in entry]
        assert len(found) == 1, (text, left)
        return found[0]
    assert re.search(r" DEBUG +first/left: a debug record \{\"step\": 0\}", line("a debug"))
    info = line("an info record")
    assert ' INFO ' in info and '"rows": 3' in info and '"ratio": 0.5' in info
    assert '"name": "x"' in info and '"thing": "<object object at' in info
    assert ' WARNING ' in line("a warning record") and '"code": 42' in line("an error record")
    assert ' INFO ' in line("printed by left") and '"source": "print"' in line("printed by left")
    logged = line("logged through logging: 7")
    assert ' WARNING ' in logged and '"logger": "thirdparty.lib"' in logged
    assert left.index("a debug record") < left.index("count 1 ") < left.index("count 50 ")
    errors = cli("logs", run_id, "--level", "warning", "--plugin", "left",
                 project=project).stdout
    assert "a warning record" in errors and "an error record" in errors
    assert "logged through logging" in errors
    assert "count" not in errors and "a debug record" not in errors and "printed by" not in errors


def test_follow_prints_records_as_they_come_and_ends_with_the_run(make_project, store_env,
                                                                 out_dir, tmp_path):
    project = make_project("pipelines:\n  slow:\n    hooks: [first]\n", {
        "ticker": plugin(TICKER, out_dir, "ticker", "first", "slow")})
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    command = [sys.executable, "-m", "dataflow"]
    run = subprocess.Popen(command + ["run", "slow"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    follow = None
    try:
        run_id = wait_until(lambda: out_dir.read("ticker", "run_id"), 60, message="the run")
        followed = tmp_path / "followed.txt"
        with open(followed, "w") as sink:
            follow = subprocess.Popen(command + ["logs", run_id, "--follow"], env=env,
                                      stdout=sink, stderr=subprocess.STDOUT)
        wait_until(lambda: "tick 1" in followed.read_text(), 30, message="tick 1 followed")
        assert follow.poll() is None and run.poll() is None, "still following a running run"
        assert "tick 2" not in followed.read_text()
        out_dir.release()
        assert follow.wait(60) == 0, followed.read_text()
        stdout, stderr = run.communicate(timeout=60)
    finally:
        for process in (follow, run):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
    assert run.returncode == 0, stdout + stderr
    ticks = re.findall(r"ticker: tick (\d)", followed.read_text())
    assert ticks == ["1", "2", "3", "4", "5"], followed.read_text()


def test_fatal_stops_the_pipeline_even_for_a_plugin_that_is_not_fail_hard(
        make_project, engine_for, out_dir):
    project = make_project("pipelines:\n  doomed:\n    hooks: [first, second]\n", {
        "grim": plugin(FATAL, out_dir, "grim", "first", "doomed", FAIL_HARD=False),
        "later": plugin('mark("ran")', out_dir, "later", "second", "doomed")})
    engine = engine_for(project)
    result = engine.run("doomed", timeout=RUN_TIMEOUT)
    assert result.status == "failed"
    assert result.tasks["first.grim"]["status"] == "failed"
    assert "cannot go on" in result.tasks["first.grim"]["error"]
    assert result.tasks["second.later"]["status"] == "skipped"
    assert out_dir.read("later", "ran") is None and out_dir.read("grim", "after_fatal") is None
    engine.project.recorder.flush()
    records = list(engine.project.db["logs"].find({"run_id": result.run_id, "level": "FATAL"}))
    assert [(r["plugin"], r["message"], r["fields"]) for r in records] == [
        ("grim", "cannot go on", {"reason": "corrupt input"})]
