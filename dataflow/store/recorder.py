"""Writes run history in bulk on a background thread: off the critical path, nothing lost.

Callers enqueue upserts (`record`); the writer drains whatever has queued, groups it
per collection and sends one ordered bulk_write each. A failed write is retried
with backoff, never dropped; `flush()` waits until everything queued so far is stored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

from pymongo import UpdateOne, WriteConcern
from pymongo.errors import PyMongoError

log = logging.getLogger("dataflow.recorder")
MAX_BATCH = 5_000
JOURNALED = WriteConcern(j=True)


class Recorder:
    """One background writer per store; thread-safe."""

    def __init__(self, db):
        self.db = db
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._done = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="dataflow-recorder", daemon=True)
        self._thread.start()

    def record(self, collection: str, doc_id, fields: dict, insert_only: dict | None = None) -> None:
        """Upsert `fields` into document `doc_id` (and `insert_only` when it is new)."""
        update = {"$set": fields}
        if insert_only:
            update["$setOnInsert"] = insert_only
        with self._done:
            self._pending += 1
        self._queue.put((collection, UpdateOne({"_id": doc_id}, update, upsert=True)))

    def _drain(self) -> list:
        batch = [self._queue.get()]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list) -> None:
        by_collection: dict[str, list] = {}
        for collection, operation in batch:
            by_collection.setdefault(collection, []).append(operation)
        for collection, operations in by_collection.items():
            self._write_with_retry(collection, operations)

    def _write_with_retry(self, collection: str, operations: list) -> None:
        delay = 0.1
        while True:
            try:
                # j=True: a run's state survives the store being killed right after
                self.db[collection].with_options(write_concern=JOURNALED).bulk_write(
                    operations, ordered=True)
                return
            except PyMongoError as error:
                log.warning("history write to %s failed (%s); retrying in %.1fs",
                            collection, error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _work(self) -> None:
        while True:
            batch = self._drain()
            stop = any(item is None for item in batch)
            batch = [item for item in batch if item is not None]
            if batch:
                self._write(batch)
            with self._done:
                self._pending -= len(batch)
                self._done.notify_all()
            if stop:
                return

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record queued before this call is stored."""
        with self._done:
            return self._done.wait_for(lambda: self._pending <= 0, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout)
