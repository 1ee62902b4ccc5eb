"""Retention's deletions, one run at a time: its checkpoints (files and GridFS), its log
records, its log file, its whole history. Each returns what it freed (or, with
`dry_run`, would free) as PruneReport counts, and is safe to repeat: a prune cut short
is finished by the next one.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from bson.errors import InvalidId

from dataflow.store.connection import STATE_DIR
from dataflow.store.stream_progress import delete_stream_checkpoints

if TYPE_CHECKING:
    from pymongo.database import Database

GRIDFS_FILES, GRIDFS_CHUNKS = "checkpoints.files", "checkpoints.chunks"


@dataclass(frozen=True)
class Places:
    """Where a project keeps what retention deletes."""

    db: Database[Any]
    checkpoints: Path       # <project>/.dataflow/checkpoints (worker/checkpoints.py)
    logs: Path              # <project>/<logging.directory>
    dry_run: bool = False

    @classmethod
    def of(cls, db: Database[Any], project_dir: Path, log_directory: str,
           dry_run: bool = False) -> Places:
        project_dir = Path(project_dir).resolve()
        return cls(db, project_dir / STATE_DIR / "checkpoints", project_dir / log_directory,
                   dry_run)


def _folder_files(places: Places, run_id: str) -> dict[str, int]:
    """The run's checkpoint folder: its files and bytes; removed unless a dry run."""
    folder = places.checkpoints / run_id
    if not run_id or folder.parent != places.checkpoints or not folder.is_dir():
        return {"checkpoint_files": 0, "checkpoint_bytes": 0}
    files = [path for path in folder.rglob("*") if path.is_file()]
    size = sum(path.stat().st_size for path in files)
    if not places.dry_run:
        shutil.rmtree(folder, ignore_errors=True)
    return {"checkpoint_files": len(files), "checkpoint_bytes": size}


def _gridfs_ids(places: Places, run_id: str) -> list[ObjectId]:
    ids = []
    for task in places.db["tasks"].find({"run_id": run_id}, {"checkpoint": 1}):
        ref = task.get("checkpoint") or {}
        if ref.get("kind") == "gridfs":
            try:
                ids.append(ObjectId(ref.get("id")))
            except (InvalidId, TypeError):
                continue
    return ids


def _gridfs_files(places: Places, run_id: str) -> dict[str, int]:
    """The run's own GridFS checkpoints (not those it restored from an earlier run)."""
    ids = _gridfs_ids(places, run_id)
    files = [doc for doc in places.db[GRIDFS_FILES].find(
        {"_id": {"$in": ids}}, {"filename": 1, "length": 1})
        if str(doc.get("filename", "")).startswith(f"{run_id}/")] if ids else []
    owned = [doc["_id"] for doc in files]
    if not owned:
        return {"gridfs_files": 0, "gridfs_chunks": 0, "checkpoint_bytes": 0}
    chunks = {"files_id": {"$in": owned}}
    if places.dry_run:
        count = places.db[GRIDFS_CHUNKS].count_documents(chunks)
    else:
        count = places.db[GRIDFS_CHUNKS].delete_many(chunks).deleted_count
        places.db[GRIDFS_FILES].delete_many({"_id": {"$in": owned}})
    return {"gridfs_files": len(owned), "gridfs_chunks": count,
            "checkpoint_bytes": sum(int(doc.get("length") or 0) for doc in files)}


def drop_checkpoints(places: Places, run_id: str) -> dict[str, int]:
    """Both kinds: a project may have changed `checkpoints:` since the run."""
    counts = _folder_files(places, run_id)
    # a streamed task's Parquet parts (.dataflow/streams/<run id>) and chunk checkpoints
    parts = _folder_files(replace(places, checkpoints=places.checkpoints.parent / "streams"),
                          run_id)
    counts = {key: counts[key] + parts[key] for key in counts}
    if not places.dry_run:
        delete_stream_checkpoints(places.db, run_id)
    grid = _gridfs_files(places, run_id)
    counts["checkpoint_bytes"] += grid.pop("checkpoint_bytes")
    return {**counts, **grid}


def drop_log_records(places: Places, run_id: str) -> int:
    query = {"run_id": run_id}
    if places.dry_run:
        return places.db["logs"].count_documents(query)
    return places.db["logs"].delete_many(query).deleted_count


def drop_log_file(places: Places, path: Path) -> dict[str, int]:
    try:
        size = path.stat().st_size
        if not places.dry_run:
            path.unlink()
    except FileNotFoundError:
        return {"log_files": 0, "log_file_bytes": 0}
    return {"log_files": 1, "log_file_bytes": size}


def drop_run(places: Places, run_id: str) -> dict[str, int]:
    """A whole run: checkpoints, log records and file, tasks, then the run itself (last,
    so that a prune cut short finds the run again)."""
    counts = drop_checkpoints(places, run_id)
    counts["log_documents"] = drop_log_records(places, run_id)
    counts.update(drop_log_file(places, places.logs / f"{run_id}.log"))
    query = {"run_id": run_id}
    if places.dry_run:
        counts["task_documents"] = places.db["tasks"].count_documents(query)
    else:
        counts["task_documents"] = places.db["tasks"].delete_many(query).deleted_count
        places.db["runs"].delete_one({"_id": run_id})
    return {**counts, "runs_deleted": 1}


def mark_pruned(places: Places, run_id: str, what: str, when) -> None:
    """Note on the run that its checkpoints or logs are gone (not looked at again)."""
    if not places.dry_run:
        places.db["runs"].update_one({"_id": run_id}, {"$set": {f"{what}_pruned": when}})
