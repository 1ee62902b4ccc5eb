"""Writes run history in bulk on a background thread: off the critical path, nothing lost.

Callers enqueue upserts (`record`). The writer takes what has queued, lingers a
moment for more (a short run's start, progress and end then become one write per
document), merges the updates of each document, and sends one ordered bulk_write
per collection with j=True. Every string of a record is bounded before it is queued
(store/bounds.py). A write that fails for want of the store is retried with backoff until
the store is back (a dead embedded server is restarted on its port); a document the store
rejects as invalid is cut short once, then dropped, never retried as it was
(store/write_errors.py). `flush()` cuts the linger short and waits until everything
queued so far is stored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from bson.errors import InvalidDocument
from pymongo import InsertOne, UpdateOne, WriteConcern
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from dataflow.background import BackgroundThread
from dataflow.store.bounds import bound_record
from dataflow.store.connection import revive_store
from dataflow.store.write_errors import Triage

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger("dataflow.recorder")
MAX_BATCH = 5_000
LINGER = 0.05          # seconds to gather more records before a write
JOURNALED = WriteConcern(j=True)   # a run's state survives the store being killed right after
APPEND = object()       # marks a record as an insert of a new document
MAX_DELAY = 5.0         # seconds between retries while the store is away
RUNS = "runs"


def merge_updates(batch: list) -> dict[str, list]:
    """{collection: [InsertOne | UpdateOne]}: appends as inserts; updates merged per
    document, later fields winning, order kept."""
    merged: dict[tuple, dict] = {}
    operations: dict[str, list] = {}
    for collection, doc_id, fields, insert_only in batch:
        if insert_only is APPEND:
            operations.setdefault(collection, []).append(InsertOne({"_id": doc_id, **fields}))
            continue
        entry = merged.setdefault((collection, doc_id), {"set": {}, "insert": {}})
        entry["set"].update(fields)
        entry["insert"].update(insert_only or {})
    for (collection, doc_id), entry in merged.items():
        update = {"$set": entry["set"]}
        insert_only = {k: v for k, v in entry["insert"].items() if k not in entry["set"]}
        if insert_only:
            update["$setOnInsert"] = insert_only
        operations.setdefault(collection, []).append(UpdateOne({"_id": doc_id}, update, upsert=True))
    return operations


class Recorder:
    """One background writer per store; thread-safe."""

    def __init__(self, db: Database[Any], linger: float = LINGER):
        self.db, self.linger = db, linger
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._done = threading.Condition()
        self._hurry = threading.Event()
        self._stopping = False
        self._thread = BackgroundThread("dataflow-recorder", self._work).start()

    def record(self, collection: str, doc_id, fields: dict, insert_only: dict | None = None) -> None:
        """Upsert `fields` into document `doc_id` (and `insert_only` when it is new)."""
        fields = bound_record(collection, doc_id, fields)
        if insert_only:
            insert_only = bound_record(collection, doc_id, insert_only)
        with self._done:
            self._pending += 1
        self._queue.put((collection, doc_id, fields, insert_only))

    def append(self, collection: str, doc_id, document: dict) -> None:
        """Insert a new document that is never updated (log records): cheaper than upserts."""
        document = bound_record(collection, doc_id, document)
        with self._done:
            self._pending += 1
        self._queue.put((collection, doc_id, document, APPEND))

    def _drain(self) -> list:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.linger
        while len(batch) < MAX_BATCH and batch[-1] is not None:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0 or self._hurry.is_set():
                    batch.append(self._queue.get_nowait())
                else:
                    batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _write_with_retry(self, collection: str, operations: list) -> None:
        """Until written: the store away → wait and retry; a document refused → Triage."""
        delay, triage = 0.1, Triage(collection)
        while operations:
            ordered = not all(isinstance(op, InsertOne) for op in operations)
            try:
                self.db[collection].with_options(write_concern=JOURNALED).bulk_write(
                    operations, ordered=ordered)
                return
            except BulkWriteError as error:
                operations = triage.after_bulk_error(operations, error.details, ordered)
                if not triage.transient:
                    continue                # what is left goes at once
            except InvalidDocument as error:    # pymongo's DocumentTooLarge too
                operations = triage.after_unencodable(operations, error)
                continue
            except ConnectionFailure as error:
                log.warning("the store is out of reach (%s): history for %s is kept and "
                            "written once it is back; retrying in %.1fs", _short(error),
                            collection, delay)
                revive_store(self.db.client)    # a dead embedded server comes back
            except PyMongoError as error:
                log.warning("history write to %s failed (%s); retrying in %.1fs",
                            collection, _short(error), delay)
            except Exception:               # a bug: say so, but keep the writer going
                log.exception("history write to %s failed; %d records dropped", collection,
                              len(operations))
                return
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    def _work(self, stopping: threading.Event) -> None:
        """Until the None sentinel of close(): nothing queued before it is left unwritten."""
        while True:
            batch = self._drain()
            stop = batch[-1] is None
            records = [item for item in batch if item is not None]
            # The run document goes last: a reader that sees a run finished finds all
            # of its task records and logs already stored.
            for collection, operations in sorted(merge_updates(records).items(),
                                                 key=lambda item: item[0] == RUNS):
                self._write_with_retry(collection, operations)
            with self._done:
                self._pending -= len(records)
                if self._pending <= 0:
                    self._hurry.clear()
                self._done.notify_all()
            if stop:
                return

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record queued before this call is stored."""
        with self._done:
            if self._pending > 0:
                self._hurry.set()
            return self._done.wait_for(lambda: self._pending <= 0, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._queue.put(None)
        self._thread.stop(timeout)


def _short(error: Exception) -> str:
    """An error for one log line (pymongo's can carry a whole topology description)."""
    text = str(error)
    return text if len(text) <= 300 else text[:300] + " …"
