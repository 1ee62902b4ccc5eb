"""Retention (issue 12, item 6): `dataflow prune [--dry-run]` and the automatic
application after a run delete old checkpoints, log records, log files and run history
by the policy in system.yaml (per pipeline overridable), and nothing else."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

from conftest import ok, plugin_source, refused, wait_until

from dataflow.statuses import RunStatus
from dataflow.store.retention_plan import RetentionPolicy, checkpoint_victims

PIPELINES = """
pipelines:
  daily:
    hooks: [make, check]
"""
MAKE = "print('made it')\nreturn b'x' * 50000"
CHECK = ("print('checking')\nif os.path.exists(os.path.join(OUT, 'fail')):\n"
         "    raise RuntimeError('check failed')\nreturn {'ok': True}")


def project_for(make_project, out_dir, system: str, pipelines: str = PIPELINES):
    return make_project(pipelines, {
        "maker": plugin_source("maker", "make", "daily", MAKE),
        "checker": plugin_source("checker", "check", "daily", CHECK, out=out_dir)},
        system=system)


def runs_of(engine, out_dir, outcomes: str) -> list[str]:
    """One run per letter, oldest first: o = completed, f = completed_with_errors."""
    ids = []
    for outcome in outcomes:
        if outcome == "f":
            out_dir.touch("fail")
        result = engine.run("daily")
        (out_dir / "fail").unlink(missing_ok=True)
        ids.append(result.run_id)
    engine.project.recorder.flush()
    return ids


def folder(project, run_id):
    return project / ".dataflow" / "checkpoints" / run_id


def prune_json(cli, project, *args) -> dict:
    return json.loads(ok(cli("prune", "--json", *args, project=project)).stdout)


def test_prune_keeps_the_newest_runs_and_the_resumable_ones(cli, engine_for, make_project,
                                                              out_dir):
    project = project_for(make_project, out_dir, "checkpoints: files\nretention:\n"
                          "  keep_checkpoints_runs: 2\n  automatic: false\n")
    engine = engine_for(project)
    first, failed, third, fourth, fifth = runs_of(engine, out_dir, "ofooo")
    assert engine.project.db["runs"].find_one({"_id": failed})["status"] == \
        RunStatus.COMPLETED_WITH_ERRORS
    every = [first, failed, third, fourth, fifth]
    assert all(folder(project, run_id).is_dir() for run_id in every)

    planned = prune_json(cli, project, "--dry-run")
    assert planned["dry_run"] and planned["runs_checkpoints_pruned"] == 2
    assert planned["checkpoint_files"] == 4 and planned["checkpoint_bytes"] > 100_000
    assert all(folder(project, run_id).is_dir() for run_id in every)   # nothing deleted
    text = ok(cli("prune", "--dry-run", project=project)).stdout
    assert "would free" in text and "nothing was deleted" in text

    done = ok(cli("prune", project=project)).stdout
    assert "checkpoints   2 runs: 4 files" in done and "freed" in done
    assert not folder(project, first).exists() and not folder(project, third).exists()
    assert all(folder(project, run_id).is_dir() for run_id in (failed, fourth, fifth))
    again = prune_json(cli, project)
    assert again["runs_checkpoints_pruned"] == 0 and again["bytes_freed"] == 0
    assert len(json.loads(ok(cli("runs", "--json", project=project)).stdout)) == 5
    refused(cli("output", first, "maker", project=project), "gone (pruned")
    ok(cli("output", fifth, "maker", project=project))


def test_history_and_logs_older_than_their_days_are_deleted(cli, engine_for, make_project,
                                                            out_dir):
    project = project_for(make_project, out_dir, "retention:\n  history_days: 90\n"
                          "  log_days: 30\n  automatic: false\n")
    engine = engine_for(project)
    ancient, old, recent = runs_of(engine, out_dir, "ooo")
    db, now = engine.project.db, datetime.now(timezone.utc)
    for run_id, days in ((ancient, 100), (old, 40)):
        db["runs"].update_one({"_id": run_id}, {"$set": {"started": now - timedelta(days=days)}})
    logs = project / "logs"
    assert all((logs / f"{run_id}.log").is_file() for run_id in (ancient, old, recent))
    month_ago = time.time() - 40 * 86400
    os.utime(logs / f"{recent}.log", (month_ago, month_ago))   # an old file of a kept run
    assert db["logs"].count_documents({"run_id": old}) >= 2

    planned = prune_json(cli, project, "--dry-run")
    assert (planned["runs_deleted"], planned["task_documents"]) == (1, 2)
    assert planned["log_files"] == 3 and planned["log_documents"] >= 4
    assert db["runs"].count_documents({}) == 3 and (logs / f"{recent}.log").exists()

    done = prune_json(cli, project)
    assert done["runs_deleted"] == 1 and done["log_files"] == 3
    assert db["runs"].find_one({"_id": ancient}) is None
    assert db["tasks"].count_documents({"run_id": ancient}) == 0
    assert db["logs"].count_documents({"run_id": {"$in": [ancient, old]}}) == 0
    assert db["logs"].count_documents({"run_id": recent}) >= 2      # its records are young
    assert not any((logs / f"{run_id}.log").exists() for run_id in (ancient, old, recent))
    assert db["runs"].find_one({"_id": old})["status"] == RunStatus.COMPLETED
    refused(cli("show", ancient, project=project), ancient)


def test_a_pipeline_overrides_the_policy_and_gridfs_checkpoints_are_pruned(
        cli, engine_for, make_project, out_dir):
    pipelines = PIPELINES + "    retention: {keep_checkpoints_runs: 1}\n"
    project = project_for(make_project, out_dir, "checkpoints: gridfs\nretention:\n"
                          "  keep_checkpoints_runs: 5\n  automatic: false\n", pipelines)
    engine = engine_for(project)
    first, second = runs_of(engine, out_dir, "oo")
    db = engine.project.db
    assert db["checkpoints.files"].count_documents({}) == 4
    done = prune_json(cli, project, "--pipeline", "daily")
    assert done["pipelines"]["daily"]["keep_checkpoints_runs"] == 1
    assert (done["gridfs_files"], done["runs_checkpoints_pruned"]) == (2, 1)
    assert done["gridfs_chunks"] >= 2 and done["checkpoint_bytes"] > 50_000
    owners = {doc["filename"].split("/")[0] for doc in db["checkpoints.files"].find()}
    assert owners == {second}
    left = [doc["_id"] for doc in db["checkpoints.files"].find()]
    assert db["checkpoints.chunks"].count_documents({"files_id": {"$nin": left}}) == 0
    refused(cli("prune", "--pipeline", "daly", project=project), "did you mean 'daily'")


def test_retention_is_applied_after_a_run(engine_for, make_project, out_dir):
    project = project_for(make_project, out_dir,
                          "checkpoints: files\n"
                          "retention: {keep_checkpoints_runs: 1, every_minutes: 0}\n")
    engine = engine_for(project)
    first, second = runs_of(engine, out_dir, "oo")
    wait_until(lambda: not folder(project, first).exists(), 90,
               message="the first run's checkpoints pruned after the second run")
    assert folder(project, second).is_dir()
    wait_until(lambda: engine.project.db["runs"].find_one(
        {"_id": first, "checkpoints_pruned": {"$exists": True}}), 60, message="marked pruned")


def test_bad_retention_values_are_refused_with_file_and_key(cli, make_project, out_dir):
    project = project_for(make_project, out_dir,
                          "retention:\n  keep_checkpoints_runs: -1\n  history_days: ninety\n")
    result = cli("validate", project=project)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    shown = result.stdout + result.stderr
    assert "config/system.yaml" in shown and "retention.keep_checkpoints_runs" in shown
    assert "retention.history_days" in shown
    refused(cli("prune", project=project), "retention.keep_checkpoints_runs")
    (project / "config" / "system.yaml").write_text("")
    (project / "config" / "pipelines.yaml").write_text(
        PIPELINES + "    retention: {log_days: -3, keep: 1}\n")
    shown = cli("validate", project=project)
    assert shown.returncode == 1
    assert "config/pipelines.yaml" in shown.stdout and "retention" in shown.stdout


def test_the_plan_keeps_what_a_kept_run_restored_from():
    runs = [{"_id": name, "status": RunStatus.COMPLETED} for name in "abcdef"]
    runs[1].update(status=RunStatus.FAILED, resumed_by="c")
    runs[2].update(resumed_from="b")        # c is a resume of b: b's checkpoints feed it
    runs[3]["status"] = RunStatus.INTERRUPTED          # still resumable
    runs[4]["status"] = RunStatus.RUNNING
    newest = [runs[2]]
    assert checkpoint_victims(newest, runs) == ["a", "f"]
    assert RetentionPolicy.layered({"history_days": 0}, {"log_days": None,
                                                         "keep_checkpoints_runs": 3}) == \
        RetentionPolicy(keep_checkpoints_runs=3, history_days=None, log_days=None)
