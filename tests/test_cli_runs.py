"""Runs through the real CLI: exit codes, progress and summary, dry run, and the run
history written by one process (`dataflow run`) read back by others (`runs`, `show`)."""
from __future__ import annotations

import json
import re

import pytest
from conftest import ProjectFactory, plugin_source, run_cli, store_variables

PIPELINES = """
pipelines:
  ok:
    hooks: ["first", "second"]
    config:
      writer: {{marker: "{marker}", rows: 7}}
  soft:
    hooks: ["first", "second"]
  hard:
    hooks: ["first", "second"]
"""

SCHEMA = {"type": "object", "properties": {"marker": {"type": "string", "default": ""},
                                         "rows": {"type": "integer", "default": 3}}}
# Fails if FAIL; writes the run id to its config's `marker` file, if any.
BODY = """
if FAIL:
    raise RuntimeError(PLUGIN_NAME + " broke on purpose")
if config["marker"]:
    open(config["marker"], "w").write(context["run_id"])
return sorted(context["inputs"])
"""


def plugin(name, hook, pipelines, version="1.0.0", fail=False, fail_hard=False):
    return plugin_source(name, hook, pipelines, BODY, VERSION=version, FAIL_HARD=fail_hard,
                         CONFIG_SCHEMA=SCHEMA, FAIL=fail)


PLUGINS = {
    "writer": plugin("writer", "first", ["ok"], version="1.2.0"),
    "flaky": plugin("flaky", "first", ["soft"], fail=True),
    "brittle": plugin("brittle", "first", ["hard"], fail=True, fail_hard=True),
    "reader": plugin("reader", "second", ["*"], version="0.9.1"),
}


def table_rows(output: str) -> list[list[str]]:
    """The cells of each row of a printed table."""
    return [[cell.strip() for cell in line.split("│")] for line in output.splitlines()
            if "│" in line]


@pytest.fixture(scope="module")
def project(mongo_uri, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-runs")
    marker = root / "writer-ran.marker"
    directory = ProjectFactory(root / "project")(PIPELINES.format(marker=marker), PLUGINS)
    env = store_variables(mongo_uri)

    def cli(*args):
        return run_cli(*args, project=directory, env=env)
    return {"cli": cli, "marker": marker}


@pytest.fixture(scope="module")
def runs(project):
    """Dry runs first (what they left behind is noted), then one run of each pipeline,
    each in its own `dataflow` process, oldest first."""
    cli = project["cli"]
    dry = {"text": cli("run", "ok", "--dry-run"), "json": cli("run", "ok", "--dry-run", "--json")}
    dry["marker_after"] = project["marker"].exists()
    dry["runs_after"] = cli("runs", "--json")
    done = {"ok": cli("run", "ok", "--verbose"), "soft": cli("run", "soft", "--json"),
            "hard": cli("run", "hard")}
    ids = {"soft": json.loads(done["soft"].stdout)["run_id"]}
    for name in ("ok", "hard"):
        found = re.search(r"run ([0-9a-f]{32}) of " + name, done[name].stdout)
        assert found, done[name].stdout + done[name].stderr
        ids[name] = found.group(1)
    return {"dry": dry, "results": done, "ids": ids}


def test_dry_run_prints_the_plan_and_runs_no_plugin_code(runs, project):
    dry = runs["dry"]
    assert dry["text"].returncode == 0, dry["text"].stderr
    out = dry["text"].stdout
    assert "no plugin code runs" in out
    assert out.index("1. hook first") < out.index("- writer 1.2.0") < out.index("2. hook second")
    assert out.index("2. hook second") < out.index("- reader 0.9.1")
    assert re.search(r"config: \{marker: .*writer-ran\.marker.*, rows: 7\}", out), out
    assert "rows: 3" in out, "the reader's config shows its schema defaults"
    plan = json.loads(dry["json"].stdout)
    assert [hook["hook"] for hook in plan["hooks"]] == ["first", "second"]
    writer = plan["hooks"][0]["plugins"][0]
    assert (writer["id"], writer["version"], writer["fail_hard"]) == ("writer", "1.2.0", False)
    assert writer["config"] == {"marker": str(project["marker"]), "rows": 7}
    assert not dry["marker_after"], "a dry run must not run the plugin"
    assert json.loads(dry["runs_after"].stdout) == [], "a dry run records no run"


def test_exit_codes_follow_the_run_status(runs, project):
    results = runs["results"]
    assert results["ok"].returncode == 0, results["ok"].stdout + results["ok"].stderr
    assert results["soft"].returncode == 3, results["soft"].stdout
    assert results["hard"].returncode == 1, results["hard"].stdout
    assert project["marker"].read_text() == runs["ids"]["ok"], "the real run did run the plugin"
    soft = json.loads(results["soft"].stdout)
    assert soft["status"] == "completed_with_errors"
    assert soft["tasks"]["first.flaky"]["status"] == "failed"
    assert soft["tasks"]["second.reader"]["status"] == "completed"


def test_progress_lines_and_summary_are_printed(runs):
    ok, hard = runs["results"]["ok"].stdout, runs["results"]["hard"].stdout
    assert re.search(r"Dask dashboard: http://\S+", ok), "--verbose prints the dashboard"
    for hook, name in (("first", "writer"), ("second", "reader")):
        assert re.search(rf"^{hook}\s+{name}\s+running", ok, re.M), ok
        assert re.search(rf"^{hook}\s+{name}\s+completed \d+\.\d\ds", ok, re.M), ok
    assert re.search(rf"run {runs['ids']['ok']} of ok: completed in \d+\.\d\ds", ok)
    assert f"details: dataflow show {runs['ids']['ok'][:12]}" in ok
    assert re.search(r"^first\s+brittle\s+failed .*RuntimeError: brittle broke on purpose", hard,
                     re.M), hard
    assert re.search(r"^second\s+reader\s+skipped", hard, re.M), hard
    assert f"run {runs['ids']['hard']} of hard: failed" in hard
    assert "first.brittle: failed RuntimeError: brittle broke on purpose" in hard


def test_runs_lists_history_written_by_other_processes(runs, project):
    cli, ids = project["cli"], runs["ids"]
    newest = json.loads(cli("runs", "--json").stdout)
    assert [run["_id"] for run in newest] == [ids["hard"], ids["soft"], ids["ok"]]
    assert [run["status"] for run in newest] == ["failed", "completed_with_errors", "completed"]
    assert all(run["trigger"] == "cli" and run["finished"] for run in newest)
    limited = json.loads(cli("runs", "--limit", "2", "--json").stdout)
    assert [run["_id"] for run in limited] == [ids["hard"], ids["soft"]]
    only_ok = json.loads(cli("runs", "--pipeline", "ok", "--limit", "5", "--json").stdout)
    assert [run["_id"] for run in only_ok] == [ids["ok"]]
    table = cli("runs", "--pipeline", "soft", "--limit", "1")
    assert table.returncode == 0
    assert [row[:4] for row in table_rows(table.stdout)] == [
        [ids["soft"], "soft", "completed_with_errors", "cli"]], table.stdout


def test_show_reads_a_run_by_id_prefix(runs, project):
    cli, ids = project["cli"], runs["ids"]
    shown = cli("show", ids["hard"][:8])
    assert shown.returncode == 0, shown.stderr
    assert f"run {ids['hard']}" in shown.stdout and "pipeline hard" in shown.stdout
    rows = table_rows(shown.stdout)
    assert [row[:4] for row in rows] == [["first", "brittle", "1.0.0", "failed"],
                                         ["second", "reader", "0.9.1", "skipped"]], shown.stdout
    assert rows[0][-1] == "RuntimeError: brittle broke on purpose", "the last column: error"
    assert "brittle (first) stopped the pipeline" in rows[1][-1]
    with_traceback = cli("show", ids["hard"][:8], "--traceback").stdout
    assert "Traceback (most recent call last)" in with_traceback
    assert 'raise RuntimeError(PLUGIN_NAME + " broke on purpose")' in with_traceback


def test_every_task_record_is_complete(runs, project):
    cli = project["cli"]
    hashes = {p["id"]: p["source_hash"] for p in json.loads(cli("plugins", "--json").stdout)}
    run = json.loads(cli("show", runs["ids"]["ok"][:10], "--json").stdout)
    assert run["_id"] == runs["ids"]["ok"] and run["status"] == "completed"
    tasks = {task["plugin"]: task for task in run["tasks"]}
    assert list(tasks) == ["writer", "reader"], "tasks in hook order"
    assert tasks["writer"]["config"] == {"marker": str(project["marker"]), "rows": 7}
    assert tasks["reader"]["config"] == {"marker": "", "rows": 3}
    for name, version in (("writer", "1.2.0"), ("reader", "0.9.1")):
        task = tasks[name]
        assert task["plugin_version"] == version and task["status"] == "completed"
        assert task["source_hash"] == hashes[name] and len(task["source_hash"]) >= 8
        assert task["started"] and task["finished"] and task["finished"] >= task["started"]
        assert task["duration"] is not None and task["worker"]
    assert tasks["reader"]["started"] >= tasks["writer"]["finished"]
    failed = json.loads(cli("show", runs["ids"]["soft"], "--json").stdout)
    flaky = next(task for task in failed["tasks"] if task["plugin"] == "flaky")
    assert flaky["status"] == "failed" and "flaky broke on purpose" in flaky["error"]
    assert "RuntimeError" in flaky["traceback"]


def test_show_of_an_unknown_run_is_a_clear_error(runs, project):
    result = project["cli"]("show", "feedfacedeadbeef")
    assert result.returncode == 1
    assert "no run with id 'feedfacedeadbeef'" in result.stderr
    assert "dataflow runs" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_pipeline_is_a_clear_error_listing_the_known_ones(project):
    result = project["cli"]("run", "nightly")
    assert result.returncode == 1
    assert "no pipeline named 'nightly' (known: hard, ok, soft)" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    dry = project["cli"]("run", "nightly", "--dry-run")
    assert dry.returncode == 1 and "known: hard, ok, soft" in dry.stderr
