"""Counts the documents a plugin writes through the db service, per collection.

pymongo publishes each command's start and success on the thread that runs it; while a
plugin runs, its thread carries a tally (`counting_writes()`), and inserts, updates and
deletes it makes are added to it from the server's replies (`n`). Writes of other threads
(the history writer, a plugin's jobs on other workers) are not counted.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import monitoring

WRITE_COMMANDS = ("insert", "update", "delete", "findAndModify")
DELETED = " (deleted)"      # deletes are tallied apart from inserts and updates
_local = threading.local()


class WriteCounter(monitoring.CommandListener):
    """Registered on every client dataflow opens; cheap when nothing is counting."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        tally = getattr(_local, "tally", None)
        if tally is not None and event.command_name in WRITE_COMMANDS:
            pending = _local.pending
            suffix = DELETED if event.command_name == "delete" else ""
            pending[event.request_id] = (event.database_name,
                                         str(event.command.get(event.command_name)) + suffix)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        tally = getattr(_local, "tally", None)
        if tally is None:
            return
        where = _local.pending.pop(event.request_id, None)
        if where is not None:
            key = f"{where[0]}.{where[1]}"
            tally[key] = tally.get(key, 0) + int(event.reply.get("n", 0) or 0)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if getattr(_local, "tally", None) is not None:
            _local.pending.pop(event.request_id, None)


@contextmanager
def counting_writes() -> Iterator[dict[str, int]]:
    """{"database.collection": documents inserted or updated, "database.collection (deleted)":
    documents deleted} by this thread within the block."""
    tally: dict[str, int] = {}
    _local.tally, _local.pending = tally, {}
    try:
        yield tally
    finally:
        _local.tally = None
