"""WRITES = ["collection", ...]: the db service journals what such a plugin overwrites.

While a task of a plugin that declares WRITES runs (`journaling(...)`, worker/undo.py),
its db service (worker/services.py) hands out collections that, before each write,
save the previous version of every document the write may touch (by `_id`; None when
it did not exist) into the rollback journal (store/rollback_journal.py). Only the first
version a task saw is kept, so replaying the journal puts back the state before the
task. Writes to collections not declared are refused (PluginFailed), and so are the
writes the journal cannot follow (bulk_write, drop, rename); `_dataflow*` helper
collections (frames.replace_documents' fingerprints) are written as usual.

Not followed: writes through `db.unwrapped()`, `collection.database`, or other clients
(a plugin's jobs on other workers); `update_one`/`delete_one` journal the first document
their filter (and sort) matches, as the server picks it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from pymongo.collection import Collection

from dataflow.errors import PluginFailed
from dataflow.store.rollback_journal import next_seq, record_before

if TYPE_CHECKING:
    from dataflow.model import PlannedTask, RunEnv

INSERTS = ("insert_one", "insert_many")
MATCHED_ONE = ("update_one", "replace_one", "delete_one", "find_one_and_update",
               "find_one_and_replace", "find_one_and_delete")
MATCHED_MANY = ("update_many", "delete_many")
NOT_FOLLOWED = ("bulk_write", "drop", "rename")
WRITE_METHODS = INSERTS + MATCHED_ONE + MATCHED_MANY + NOT_FOLLOWED
UNTRACKED_PREFIX = "_dataflow"
_active: dict[tuple[str, str], WriteJournal] = {}     # (run id, plugin) -> its journal


class WriteJournal:
    """The journal of one task: which documents it has saved, and the next seq."""

    def __init__(self, env: RunEnv, task: PlannedTask, writes: tuple[str, ...]):
        self.env, self.task_id, self.plugin = env, task.task_id, task.plugin
        self.writes = tuple(writes)
        self._seen: set[tuple[str, str]] = set()
        self._seq: int | None = None
        self._lock = threading.Lock()
        self.saved = 0

    def note(self, collection: str, befores: list[tuple[Any, dict | None]]) -> None:
        """Journal the documents (doc_id, before) not journaled by this task yet."""
        with self._lock:
            fresh = []
            for doc_id, before in befores:
                key = (collection, repr(doc_id))
                if key not in self._seen:
                    self._seen.add(key)
                    fresh.append((doc_id, before))
            if not fresh:
                return
            system_db = self.env.store.system_db()
            if self._seq is None:
                self._seq = next_seq(system_db, self.env.run_id, self.task_id)
            record_before(system_db, self.env.run_id, self.task_id, collection, fresh,
                          self._seq)
            self._seq += len(fresh)
            self.saved += len(fresh)

    def refuse(self, collection: str, method: str) -> PluginFailed:
        if collection in self.writes:
            return PluginFailed(
                f"plugin {self.plugin!r} called {collection}.{method}(), which the rollback "
                "journal of WRITES cannot follow; use insert_*, update_*, replace_one, "
                "delete_* or find_one_and_* instead")
        return PluginFailed(
            f"plugin {self.plugin!r} declares WRITES = {list(self.writes)!r} and may not "
            f"write to {collection!r} ({method}); add {collection!r} to WRITES so a failed "
            "run can be undone")


@contextmanager
def journaling(env: RunEnv, task: PlannedTask,
               writes: tuple[str, ...]) -> Iterator[WriteJournal | None]:
    """While the block runs, the task's db service journals its writes (if it has WRITES)."""
    if not writes:
        yield None
        return
    journal = WriteJournal(env, task, writes)
    _active[(env.run_id, task.plugin)] = journal
    try:
        yield journal
    finally:
        _active.pop((env.run_id, task.plugin), None)


def journaled(env: RunEnv, plugin: str, database: Any) -> Any:
    """The db service as the plugin sees it: journaled while its task journals writes."""
    journal = _active.get((env.run_id, plugin))
    return database if journal is None else _JournaledDatabase(database, journal)


def _collection_of(value: Any) -> Collection | None:
    unwrapped = value.unwrapped() if callable(getattr(value, "unwrapped", None)) else value
    return unwrapped if isinstance(unwrapped, Collection) else None


class _JournaledDatabase:
    def __init__(self, target: Any, journal: WriteJournal):
        self._target, self._journal = target, journal

    def _wrapped(self, value: Any) -> Any:
        collection = _collection_of(value)
        return value if collection is None else _JournaledCollection(
            value, collection.name, self._journal)

    def __getitem__(self, name: str) -> Any:
        return self._wrapped(self._target[name])

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in ("get_collection", "create_collection"):
            return lambda *args, **kwargs: self._wrapped(value(*args, **kwargs))
        return self._wrapped(value)

    def unwrapped(self) -> Any:
        return self._target.unwrapped() if hasattr(self._target, "unwrapped") else self._target


class _JournaledCollection:
    """A collection whose writes are journaled first (or refused)."""

    def __init__(self, target: Any, name: str, journal: WriteJournal):
        self._target, self._name, self._journal = target, name, journal

    def __getitem__(self, name: str) -> Any:
        return _JournaledCollection(self._target[name], f"{self._name}.{name}", self._journal)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in WRITE_METHODS or self._name.startswith(UNTRACKED_PREFIX):
            if name == "with_options":
                return lambda *a, **k: _JournaledCollection(value(*a, **k), self._name,
                                                            self._journal)
            return value
        if name in NOT_FOLLOWED or self._name not in self._journal.writes:
            raise self._journal.refuse(self._name, name)
        if name in INSERTS:
            return lambda documents, *a, **k: self._insert(value, name, documents, *a, **k)
        return lambda filter, *a, **k: self._matched(value, name, filter, *a, **k)

    def _raw(self) -> Collection:
        collection = _collection_of(self._target)
        assert collection is not None
        return collection

    def _insert(self, call: Any, method: str, documents: Any, *args: Any, **kwargs: Any) -> Any:
        docs = [documents] if method == "insert_one" else list(documents)
        for doc in docs:
            if isinstance(doc, dict) and "_id" not in doc:
                doc["_id"] = ObjectId()      # as pymongo would, but before the write
        ids = [doc["_id"] for doc in docs if isinstance(doc, dict)]
        there = {repr(d["_id"]) for d in self._raw().find({"_id": {"$in": ids}}, {"_id": 1})}
        # a document already there makes its insert fail: nothing of it to undo
        self._journal.note(self._name, [(i, None) for i in ids if repr(i) not in there])
        return call(documents if method == "insert_one" else docs, *args, **kwargs)

    def _matched(self, call: Any, method: str, filter: Any, *args: Any, **kwargs: Any) -> Any:
        limit = 0 if method in MATCHED_MANY else 1
        raw = self._raw()
        befores = list(raw.find(filter, sort=kwargs.get("sort"), limit=limit))
        self._journal.note(self._name, [(doc["_id"], doc) for doc in befores])
        result = call(filter, *args, **kwargs)
        upserted = getattr(result, "upserted_id", None)
        if upserted is not None:
            self._journal.note(self._name, [(upserted, None)])
        elif kwargs.get("upsert") and method.startswith("find_one_and"):
            after = raw.find_one(filter, {"_id": 1}, sort=kwargs.get("sort"))
            if after is not None:       # already journaled when it was there before
                self._journal.note(self._name, [(after["_id"], None)])
        return result

    def __repr__(self) -> str:
        return f"{self._target!r} (writes journaled for rollback)"
