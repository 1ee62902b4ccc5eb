"""What the history writer does with a write the store refused, operation by operation.

A document the store rejects as invalid (too large, a bad value) is never sent again as
it was: it is stored once more with every string cut short, and dropped with a logged
error if that is refused too. Operations that were refused for another reason are retried
a few times; those the store had stored (a duplicate key on a retried insert) are done."""
from __future__ import annotations

import logging
from typing import Any

import bson
from pymongo import InsertOne, UpdateOne

from dataflow.store.bounds import SHRUNK_LIMIT, bound_record

log = logging.getLogger("dataflow.recorder")
DUPLICATE_KEY = 11000
# BadValue, FailedToParse, TypeMismatch, DollarPrefixed/Dotted/Empty field names,
# BSONObjectTooLarge, document too large after an update or as an upsert
INVALID_DOCUMENT = frozenset({2, 9, 14, 52, 55, 56, 57, 10334, 17419, 17420})
MAX_REFUSALS = 5          # other refusals of one operation before it is given up
MAX_DOCUMENT = 16 * 1024 * 1024
Operation = Any           # InsertOne | UpdateOne


def doc_id(op: Operation) -> Any:
    """The _id an InsertOne or UpdateOne writes (for messages)."""
    return op._doc.get("_id") if isinstance(op, InsertOne) else op._filter.get("_id")


class Triage:
    """Sorts out one bulk write's refused operations across its retries."""

    def __init__(self, collection: str):
        self.collection = collection
        self.shrunk: set[int] = set()          # ids of operations already cut short
        self.refusals: dict[int, int] = {}
        self.transient = False                 # the last refusal may pass: wait, then retry

    def after_bulk_error(self, operations: list, details: Any, ordered: bool) -> list:
        """The operations still to write after a BulkWriteError: those not attempted (an
        ordered write stops at its first error), those refused for a passing reason, and
        rejected documents cut short once; everything else was stored or is dropped."""
        failed = {error["index"]: error for error in details.get("writeErrors", [])}
        self.transient = not failed
        if not failed:              # only the write concern failed: write it all again
            return operations
        first = min(failed)
        remaining = []
        for index, op in enumerate(operations):
            error = failed.get(index)
            if error is None:
                if ordered and index > first:
                    remaining.append(op)        # never attempted
                continue
            replacement = self._refused(op, error.get("code"), str(error.get("errmsg", "")))
            if replacement is not None:
                remaining.append(replacement)
        return remaining

    def after_unencodable(self, operations: list, error: Exception) -> list:
        """After pymongo refused to send the batch (InvalidDocument, DocumentTooLarge):
        the operations that cannot be encoded are cut short or dropped; all go again."""
        remaining = []
        for op in operations:
            problem = _encoding_problem(op)
            if problem is None:
                remaining.append(op)
                continue
            replacement = self._invalid(op, problem)
            if replacement is not None:
                remaining.append(replacement)
        if len(remaining) == len(operations) and all(a is b for a, b in zip(remaining, operations)):
            log.error("history write to %s refused (%s) and no document explains it: "
                      "%d records dropped", self.collection, error, len(operations))
            return []
        return remaining

    def _refused(self, op: Operation, code: Any, message: str) -> Operation | None:
        if code == DUPLICATE_KEY:
            return None             # a retried insert that had been stored already
        if code in INVALID_DOCUMENT:
            return self._invalid(op, f"code {code}: {message[:300]}")
        tries = self.refusals[id(op)] = self.refusals.get(id(op), 0) + 1
        if tries > MAX_REFUSALS:
            log.error("history write to %s: document %r refused %d times (code %s: %s); "
                      "dropped", self.collection, doc_id(op), tries, code, message[:300])
            return None
        log.warning("history write to %s: document %r refused (code %s: %s); retrying",
                    self.collection, doc_id(op), code, message[:300])
        self.transient = True
        return op

    def _invalid(self, op: Operation, why: str) -> Operation | None:
        """The operation with its strings cut to SHRUNK_LIMIT, once; None (dropped) after."""
        if id(op) in self.shrunk:
            log.error("history write to %s: document %r still rejected after its strings were "
                      "cut (%s); dropped", self.collection, doc_id(op), why)
            return None
        log.warning("history write to %s: the store rejected document %r (%s); writing it "
                    "with its strings cut to %d characters", self.collection, doc_id(op),
                    why, SHRUNK_LIMIT)
        smaller = _shrunk(self.collection, op)
        self.shrunk.add(id(smaller))
        return smaller


def _shrunk(collection: str, op: Operation) -> Operation:
    document = op._doc
    if isinstance(op, InsertOne):
        return InsertOne(bound_record(collection, doc_id(op), document, SHRUNK_LIMIT))
    return UpdateOne(op._filter, {key: bound_record(collection, doc_id(op), value, SHRUNK_LIMIT)
                                  for key, value in document.items()}, upsert=op._upsert)


def _encoding_problem(op: Operation) -> str | None:
    """Why pymongo cannot send this operation's document, or None if it can."""
    try:
        size = len(bson.encode(op._doc))
    except (bson.errors.InvalidDocument, TypeError, OverflowError) as error:
        return f"cannot be encoded: {str(error)[:300]}"
    return f"{size:,} bytes, more than {MAX_DOCUMENT:,}" if size > MAX_DOCUMENT else None
