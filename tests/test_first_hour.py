"""A new user's first hour, through the CLI: what a run produced, one-off parameters,
Ctrl-C, messages that point the right way, ISO timestamps, and the README's example."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pandas as pd
import pymongo
from conftest import REPO, ok, plugin_source, refused, wait_until

from dataflow.frames import replace_documents

PIPELINES = """
pipelines:
  daily:
    hooks: ["load", "shape"]
"""
SCHEMA = {"type": "object", "properties": {
    "rows": {"type": "integer", "minimum": 1, "default": 3}}}
LOAD = "import pandas\nreturn pandas.DataFrame({'x': range(config['rows']), 'y': 1.5})"
SHAPE = "frame = context['inputs']['loader']\nreturn {'total': int(frame['x'].sum())}"


def project_with_outputs(make_project):
    return make_project(PIPELINES, {
        "loader": plugin_source("loader", "load", "daily", LOAD, CONFIG_SCHEMA=SCHEMA),
        "shaper": plugin_source("shaper", "shape", "daily", SHAPE)})


def last_run_id(cli, project) -> str:
    return json.loads(ok(cli("runs", "--limit", "1", "--json", project=project)).stdout)[0]["_id"]


def test_a_run_says_what_it_produced_and_the_output_can_be_exported(cli, make_project,
                                                                    tmp_path):
    project = project_with_outputs(make_project)
    result = ok(cli("run", "daily", "--set", "loader.rows=7", project=project))
    assert "load.loader: DataFrame 7 rows × 2 columns" in result.stdout
    assert "shape.shaper: dict of 1 keys" in result.stdout
    run_id = last_run_id(cli, project)
    shown = ok(cli("show", run_id[:10], project=project)).stdout
    assert "DataFrame 7 rows × 2 columns" in shown
    assert "overrides" in shown and "'rows': 7" in shown
    target = tmp_path / "loader.parquet"
    ok(cli("output", run_id[:10], "loader", "--to", target, project=project))
    frame = pd.read_parquet(target)
    assert list(frame["x"]) == list(range(7)) and list(frame.columns) == ["x", "y"]
    summary = ok(cli("output", run_id[:10], "shaper", project=project)).stdout
    assert "dict of 1 keys" in summary and "total" in summary
    refused(cli("output", run_id[:10], "shaper", "--to", tmp_path / "x.csv", project=project),
            ".csv is for DataFrames")


def test_a_bad_override_is_refused_before_anything_runs(cli, make_project):
    project = project_with_outputs(make_project)
    refused(cli("run", "daily", "--set", "loader.rows=0", project=project),
            "loader.rows", "minimum of 1", "nothing ran")
    refused(cli("run", "daily", "--set", "lodaer.rows=2", project=project),
            "did you mean 'loader'?")
    assert json.loads(ok(cli("runs", "--json", project=project)).stdout) == []


def test_mistyped_pipeline_gets_did_you_mean(cli, make_project):
    project = project_with_outputs(make_project)
    refused(cli("run", "dialy", project=project), "did you mean 'daily'?")


def test_json_output_uses_iso_timestamps(cli, make_project):
    project = project_with_outputs(make_project)
    run = json.loads(ok(cli("run", "daily", "--json", project=project)).stdout)
    started = run["tasks"]["load.loader"]["started"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", started), started
    shown = json.loads(ok(cli("show", run["run_id"], "--json", project=project)).stdout)
    assert re.match(r"\d{4}-\d\d-\d\dT", shown["started"])


def test_ctrl_c_cancels_the_run_cleanly_and_says_how_to_resume(make_project, store_env,
                                                              out_dir):
    project = make_project("pipelines:\n  slow:\n    hooks: [wait]\n", {"waiter": plugin_source(
        "waiter", "wait", "slow", "mark('started')\nwait_for('never', 120, context.cancelled)",
        out=out_dir)})
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "run", "slow"],
                               env={**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: out_dir.read("waiter", "started") is not None, 90, message="plugin start")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 4, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "cancelled" in stdout and "dataflow resume" in stdout


def test_replacing_a_selection_with_nothing_empties_it(mongo_uri):
    client = pymongo.MongoClient(mongo_uri)
    collection = client["first_hour_frames"]["flags"]
    collection.delete_many({})
    replace_documents(collection, {"ticker": "AAPL"}, [{"ticker": "AAPL", "day": d}
                                                      for d in range(3)])
    replace_documents(collection, {"ticker": "IBM"}, [{"ticker": "IBM", "day": 1}])
    assert replace_documents(collection, {"ticker": "AAPL"}, []) == 0
    assert collection.count_documents({"ticker": "AAPL"}) == 0
    assert collection.count_documents({"ticker": "IBM"}) == 1
    client.drop_database("first_hour_frames")


def test_the_readme_example_runs_as_a_script(make_project, store_env, tmp_path):
    readme = (REPO / "README.md").read_text()
    example = re.search(r"### From Python.*?```python\n(.*?)```", readme, re.S).group(1)
    project = make_project("pipelines:\n  default:\n    hooks: [fetch_data, aggregate, "
                           "calculate_indicators]\n", copy_default_plugins=True)
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True,
                            text=True, timeout=300, env={**os.environ, **store_env})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sma_20" in result.stdout and "2013-03-01" in result.stdout
