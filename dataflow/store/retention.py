"""Retention: checkpoints, logs and run history deleted by policy (retention_plan.py says
what the policy is and which runs lose what; retention_delete.py deletes).

`prune(project)` applies it now (`dataflow prune`); retention_auto.py applies it after
runs. A running run is never touched.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING

from dataflow.errors import PipelineNotFound
from dataflow.statuses import FINAL_RUN_STATUSES
from dataflow.store.retention_delete import (Places, drop_checkpoints, drop_log_file,
                                             drop_log_records, drop_run, mark_pruned)
from dataflow.store.retention_plan import PruneReport, RetentionPolicy, checkpoint_victims

if TYPE_CHECKING:
    from pymongo.database import Database

    from dataflow.project import Project

log = logging.getLogger("dataflow.retention")
RUN_FILE = re.compile(r"[0-9a-f]{32}\.log")
_FIELDS = {"status": 1, "started": 1, "resumed_from": 1, "resumed_by": 1, "pipeline": 1}


def policy_for(project: Project, pipeline: str | None,
               pipelines: dict | None = None) -> RetentionPolicy:
    """system.yaml's `retention:`, overridden key by key by the pipeline's own
    (`pipelines`: project.pipelines, when the caller has it already)."""
    defined = (project.pipelines if pipelines is None else pipelines).get(pipeline or "")
    return RetentionPolicy.layered(project.settings.retention,
                                   getattr(defined, "retention", None))


def _pipelines(project: Project, chosen: str | None, defined: dict) -> list[str | None]:
    if chosen is not None:
        if chosen not in defined and project.db["runs"].find_one({"pipeline": chosen},
                                                                 {"_id": 1}) is None:
            raise PipelineNotFound(chosen, list(defined))
        return [chosen]
    return sorted({*defined, *project.db["runs"].distinct("pipeline")},
                  key=lambda name: name or "")


def _finished_before(pipeline: str | None, cutoff: datetime, flag: str | None = None) -> dict:
    query: dict[str, Any] = {"pipeline": pipeline, "status": {"$in": list(FINAL_RUN_STATUSES)},
                             "started": {"$lt": cutoff}}
    if flag:
        query[flag] = {"$exists": False}
    return query


def _limited(cursor, limit: int | None) -> list[dict]:
    return list(cursor.limit(limit) if limit else cursor)


def _history(places: Places, pipeline: str | None, policy: RetentionPolicy, now: datetime,
             report: PruneReport, limit: int | None) -> set[str]:
    cutoff = policy.cutoff(policy.history_days, now)
    if cutoff is None:
        return set()
    runs = _limited(places.db["runs"].find(_finished_before(pipeline, cutoff), {"_id": 1}),
                    limit)
    for run in runs:
        report.add(**drop_run(places, run["_id"]))
    return {run["_id"] for run in runs}


def _checkpoints(places: Places, pipeline: str | None, policy: RetentionPolicy,
                 gone: set[str], report: PruneReport, now: datetime,
                 limit: int | None) -> None:
    keep = policy.keep_checkpoints_runs
    if keep is None:
        return
    runs = places.db["runs"]
    newest = list(runs.find({"pipeline": pipeline}, _FIELDS).sort("started", DESCENDING)
                  .limit(keep))
    candidates = [run for run in runs.find({"pipeline": pipeline,
                                            "checkpoints_pruned": {"$exists": False}}, _FIELDS)
                  if run["_id"] not in gone]
    victims = checkpoint_victims(newest, candidates)
    for run_id in victims[:limit] if limit else victims:
        counts = drop_checkpoints(places, run_id)
        report.add(runs_checkpoints_pruned=int(bool(counts["checkpoint_files"]
                                                    or counts["gridfs_files"])), **counts)
        mark_pruned(places, run_id, "checkpoints", now)


def _log_records(places: Places, pipeline: str | None, policy: RetentionPolicy,
                 gone: set[str], report: PruneReport, now: datetime,
                 limit: int | None) -> None:
    cutoff = policy.cutoff(policy.log_days, now)
    if cutoff is None:
        return
    query = _finished_before(pipeline, cutoff, "logs_pruned")
    for run in _limited(places.db["runs"].find(query, {"_id": 1}), limit):
        if run["_id"] not in gone:
            report.add(log_documents=drop_log_records(places, run["_id"]),
                       **drop_log_file(places, places.logs / f"{run['_id']}.log"))
            mark_pruned(places, run["_id"], "logs", now)
            gone.add(run["_id"])


def _log_files(project: Project, places: Places, chosen: str | None, now: datetime,
               report: PruneReport, limit: int | None, pipelines: dict,
               handled: set[str]) -> None:
    """logs/<run id>.log files older (by modification time) than their pipeline's
    log_days; never a running run's (nor one `handled` already)."""
    if not places.logs.is_dir():
        return
    files = {path.name[:-4]: path for path in places.logs.iterdir()
             if RUN_FILE.fullmatch(path.name) and path.is_file()
             and path.name[:-4] not in handled}
    runs = _runs_by_id(places.db, files)
    policies: dict[str | None, RetentionPolicy] = {}
    dropped = 0
    for run_id, path in files.items():
        run = runs.get(run_id, {"pipeline": None})
        if run.get("status") not in (*FINAL_RUN_STATUSES, None) or (
                chosen is not None and run.get("pipeline") != chosen):
            continue
        pipeline = run.get("pipeline")
        policy = policies.setdefault(pipeline, policy_for(project, pipeline, pipelines))
        cutoff = policy.cutoff(policy.log_days, now)
        if cutoff is not None and path.stat().st_mtime < cutoff.timestamp():
            report.add(**drop_log_file(places, path))
            dropped += 1
            if limit and dropped >= limit:
                return


def _runs_by_id(db: Database[Any], ids: Iterable[str]) -> dict[str, dict]:
    wanted, found = list(ids), {}
    for start in range(0, len(wanted), 500):
        for run in db["runs"].find({"_id": {"$in": wanted[start:start + 500]}},
                                   {"pipeline": 1, "status": 1}):
            found[run["_id"]] = run
    return found


def prune(project: Project, dry_run: bool = False, pipeline: str | None = None,
          limit: int | None = None, now: datetime | None = None) -> PruneReport:
    """Apply the retention policy of every pipeline (or one); returns what it freed."""
    now = now or datetime.now(timezone.utc)
    places = Places.of(project.db, project.directory, project.settings.log_directory,
                       dry_run)
    report, defined = PruneReport(dry_run=dry_run), project.pipelines
    handled: set[str] = set()       # runs whose log file is already dealt with
    for name in _pipelines(project, pipeline, defined):
        policy = policy_for(project, name, defined)
        report.pipelines[name or ""] = policy.describe()
        gone = _history(places, name, policy, now, report, limit)
        _checkpoints(places, name, policy, gone, report, now, limit)
        _log_records(places, name, policy, gone, report, now, limit)
        handled |= gone
    _log_files(project, places, pipeline, now, report, limit, defined, handled)
    return report
