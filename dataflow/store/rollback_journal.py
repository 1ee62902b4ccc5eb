"""The rollback journal: what a task's writes replaced, so a failure can be undone.

One collection, `_rollback_journal`, in the system database. Entries of one task:

    {run_id, task_id, kind: "before", collection, doc_id, before, seq}
        the document `doc_id` of `collection` (in the data database) as it was before
        the task first wrote it; `before` None: it did not exist
    {run_id, task_id, kind: "snapshot", data}
        the pickled value of the plugin's `snapshot(context, config)`

Written on the workers (worker/write_journal.py, worker/undo.py), replayed there after a
failure and by the orchestrator for atomic pipelines (run/atomic.py); the run's entries
are deleted when the run ends.
"""
from __future__ import annotations

import threading
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

JOURNAL = "_rollback_journal"
BEFORE, SNAPSHOT = "before", "snapshot"
_indexed: set[str] = set()
_lock = threading.Lock()


def _journal(system_db: Database[Any]):
    collection = system_db[JOURNAL]
    key = f"{id(system_db.client)}:{system_db.name}"
    with _lock:
        first = key not in _indexed
        _indexed.add(key)
    if first:
        collection.create_index([("run_id", ASCENDING), ("task_id", ASCENDING),
                                 ("seq", ASCENDING)])
    return collection


def record_before(system_db: Database[Any], run_id: str, task_id: str, collection: str,
                  befores: list[tuple[Any, dict | None]], first_seq: int) -> None:
    """Journal (doc_id, document before or None) pairs of `collection`, in order."""
    if not befores:
        return
    _journal(system_db).insert_many([
        {"_id": f"{run_id}:{task_id}:{first_seq + n}", "run_id": run_id, "task_id": task_id,
         "kind": BEFORE, "collection": collection, "doc_id": doc_id, "before": before,
         "seq": first_seq + n} for n, (doc_id, before) in enumerate(befores)])


def next_seq(system_db: Database[Any], run_id: str, task_id: str) -> int:
    """The seq after the task's last entry (a task run again after its worker died)."""
    last = _journal(system_db).find_one({"run_id": run_id, "task_id": task_id, "kind": BEFORE},
                                        sort=[("seq", DESCENDING)], projection={"seq": 1})
    return int(last["seq"]) + 1 if last else 0


def replay(system_db: Database[Any], data_db: Database[Any], run_id: str,
           task_id: str) -> int:
    """Put back what the task's writes changed, newest entry first; returns the documents
    restored or removed. The entries are deleted once all are replayed."""
    journal = _journal(system_db)
    done = 0
    for entry in journal.find({"run_id": run_id, "task_id": task_id, "kind": BEFORE},
                              sort=[("seq", DESCENDING)]):
        target = data_db[entry["collection"]]
        if entry["before"] is None:
            target.delete_one({"_id": entry["doc_id"]})
        else:
            target.replace_one({"_id": entry["doc_id"]}, entry["before"], upsert=True)
        done += 1
    journal.delete_many({"run_id": run_id, "task_id": task_id, "kind": BEFORE})
    return done


def has_entries(system_db: Database[Any], run_id: str, task_id: str) -> bool:
    return _journal(system_db).find_one({"run_id": run_id, "task_id": task_id,
                                         "kind": BEFORE}, projection={"_id": 1}) is not None


def save_snapshot(system_db: Database[Any], run_id: str, task_id: str, data: bytes) -> None:
    _journal(system_db).replace_one(
        {"_id": f"{run_id}:{task_id}:snapshot"},
        {"run_id": run_id, "task_id": task_id, "kind": SNAPSHOT, "data": data, "seq": -1},
        upsert=True)


def load_snapshot(system_db: Database[Any], run_id: str, task_id: str) -> bytes | None:
    """The pickled snapshot the task stored, or None."""
    entry = _journal(system_db).find_one({"_id": f"{run_id}:{task_id}:snapshot"})
    return bytes(entry["data"]) if entry else None


def forget_run(system_db: Database[Any], run_id: str) -> int:
    """Delete a run's journal (its end: nothing of it will be undone any more)."""
    return _journal(system_db).delete_many({"run_id": run_id}).deleted_count
