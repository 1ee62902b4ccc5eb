"""Chunk checkpoints of streamed tasks: one small document per streaming chain and run.

The worker driving a stream (worker/stream_drive.py) writes it every CHECKPOINT_ROWS rows:
the next chunk to process and, per streamed task, its rows and parts written so far. A
resumed run reads its predecessor's document and continues from that chunk, reusing
the parts already written. Deleted with the run's other checkpoints (retention).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pymongo.database import Database

COLLECTION = "stream_checkpoints"


def _doc_id(run_id: str, task_id: str) -> str:
    return f"{run_id}:{task_id}"


def save_stream_checkpoint(db: Database[Any], run_id: str, task_id: str, state: dict) -> None:
    """Record how far the chain driven by `task_id` of `run_id` got (replaces the last)."""
    db[COLLECTION].replace_one(
        {"_id": _doc_id(run_id, task_id)},
        {"run_id": run_id, "task_id": task_id, "saved": datetime.now(timezone.utc), **state},
        upsert=True)


def load_stream_checkpoint(db: Database[Any], run_id: str, task_id: str) -> dict | None:
    """The last chunk checkpoint of that chain, or None when it never reached one."""
    return db[COLLECTION].find_one({"_id": _doc_id(run_id, task_id)})


def delete_stream_checkpoints(db: Database[Any], run_id: str) -> int:
    """Forget a run's chunk checkpoints (retention); returns how many there were."""
    return db[COLLECTION].delete_many({"run_id": run_id}).deleted_count
