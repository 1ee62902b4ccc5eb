"""DataFrame <-> MongoDB documents.

pymongo rejects numpy scalars (``numpy.int64``) and ``pd.NaT``; this module is the one
place that turns pandas rows into BSON-safe dicts and back, and that writes them in bulk.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
from typing import Any

import bson
import numpy as np
import pandas as pd

INSERT_CHUNK_SIZE = 5_000
FINGERPRINTS = "_dataflow_fingerprints"     # what replace_documents last wrote, per filter


def to_bson_value(value: Any) -> Any:
    """Return ``value`` as a type pymongo encodes: Python scalars, datetimes or None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value)
    if isinstance(value, np.generic):
        return to_bson_value(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return datetime.datetime.combine(value, datetime.time())
    if isinstance(value, dict):
        return {str(key): to_bson_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_bson_value(item) for item in value]
    return value


def frame_to_documents(df: pd.DataFrame, **constant_fields: Any) -> list[dict]:
    """One BSON-safe dict per row; a DatetimeIndex named ``date`` becomes a ``date`` field.

    ``constant_fields`` (e.g. ``ticker="AAPL"``) are added to every document.
    """
    if isinstance(df.index, pd.DatetimeIndex) and df.index.name == "date":
        df = df.reset_index()
    constants = {str(key): to_bson_value(value) for key, value in constant_fields.items()}
    columns = {
        str(name): [to_bson_value(value) for value in df[name].tolist()]
        for name in df.columns
    }
    names = list(columns)
    return [
        {**constants, **dict(zip(names, row))}
        for row in zip(*columns.values())
    ]


def documents_to_frame(docs, index="date") -> pd.DataFrame:
    """A DataFrame of ``docs`` without ``_id``, indexed (and sorted) by ``index`` if present."""
    frame = pd.DataFrame(list(docs))
    if "_id" in frame.columns:
        frame = frame.drop(columns="_id")
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name=index) if index == "date" else None)
    if index and index in frame.columns:
        if index == "date":
            frame[index] = pd.to_datetime(frame[index])
        frame = frame.set_index(index).sort_index()
    return frame


def _fingerprint(docs) -> str:
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(bson.encode(doc))
    return digest.hexdigest()


def replace_documents(collection, filter, docs, chunk_size=INSERT_CHUNK_SIZE) -> int:
    """Make what ``filter`` matches be exactly ``docs`` (with no docs: delete them all).

    Returns the number of documents ``filter`` now matches.  When the same documents
    were written for the same filter last time and are all still there, nothing is
    rewritten (a scheduled pipeline mostly reloads unchanged history).  Otherwise:
    delete, then unordered inserts in chunks, so one bad document does not stop the
    rest and a single request stays small.
    """
    docs = list(docs)
    fingerprints = collection.database[FINGERPRINTS]
    key = f"{collection.name}:{json.dumps(filter, sort_keys=True, default=str)}"
    if not docs:        # replacing with nothing empties the selection
        collection.delete_many(filter)
        fingerprints.delete_one({"_id": key})
        return 0
    fingerprint = _fingerprint(docs)
    last = fingerprints.find_one({"_id": key}) or {}
    if last.get("fingerprint") == fingerprint and \
            collection.count_documents(filter) == len(docs):
        return len(docs)
    collection.delete_many(filter)
    for start in range(0, len(docs), chunk_size):
        collection.insert_many(docs[start:start + chunk_size], ordered=False)
    fingerprints.replace_one({"_id": key}, {"fingerprint": fingerprint}, upsert=True)
    return len(docs)
