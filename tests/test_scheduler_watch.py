"""`dataflow scheduler` reloads with the file watcher (plugins/watch.py, as `serve` does),
not by polling: a schedule edited in pipelines.yaml while it runs is fired by the loop
and shown by `dataflow schedule`, without a restart."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from conftest import RUN_TIMEOUT, ok, plugin_source, wait_until
from pymongo import MongoClient
from test_scheduler import pipelines_yaml

from dataflow.statuses import RunStatus


def test_an_edited_schedule_is_fired_by_the_running_scheduler(make_project, out_dir,
                                                              store_env, cli):
    project = make_project(
        pipelines_yaml(p={"schedule": "0 3 1 1 *"}),        # once a year: not in this test
        {"work": plugin_source("work", ["work"], body="tally(context.run_id)", out=out_dir)},
        system="cluster:\n  n_workers: 1\n")
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    process = subprocess.Popen([sys.executable, "-m", "dataflow", "scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = MongoClient(store_env["DATAFLOW_MONGO_URI"], tz_aware=True)[store_env["DATAFLOW_MONGO_DB"]]
    try:
        wait_until(lambda: db["schedule_state"].find_one({"_id": "p", "watched_since":
                                                          {"$ne": None}}),
                   120, 0.2, "the loop to watch p")
        (project / "config" / "pipelines.yaml").write_text(
            pipelines_yaml(p={"schedule": "* * * * *"}))
        shown = json.loads(ok(cli("schedule", "--json", project=project)).stdout)
        assert [row["schedule"] for row in shown["pipelines"]] == ["* * * * *"]
        fire = wait_until(lambda: db["schedule_fires"].find_one({"pipeline": "p",
                                                                 "run_id": {"$ne": None}}),
                          100, 0.2, "the loop to fire the edited schedule")
        wait_until(lambda: db["runs"].find_one({"_id": fire["run_id"],
                                                "status": RunStatus.COMPLETED}),
                   RUN_TIMEOUT, 0.2, "the fired run to complete")
        assert fire["logical_time"].second == 0 and out_dir.count("work") >= 1
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        db.client.close()
    assert process.returncode == 0, output
    assert "scheduler stopped (SIGINT)" in output
