"""replace_documents against the real store: unchanged data is not rewritten, and
anything that no longer matches (edited documents, deleted rows) is."""
from __future__ import annotations

import pymongo
from conftest import new_database_name

from dataflow.frames import replace_documents


def test_unchanged_documents_are_not_rewritten_but_changes_and_gaps_are(mongo_uri):
    client = pymongo.MongoClient(mongo_uri)
    db = client[new_database_name()]
    try:
        collection = db["bars"]
        docs = [{"ticker": "X", "day": day, "close": float(day)} for day in range(100)]
        assert replace_documents(collection, {"ticker": "X"}, [dict(d) for d in docs]) == 100
        first_ids = {d["_id"] for d in collection.find()}
        assert replace_documents(collection, {"ticker": "X"}, [dict(d) for d in docs]) == 100
        assert {d["_id"] for d in collection.find()} == first_ids, "same data: left in place"
        collection.delete_one({"day": 5})
        replace_documents(collection, {"ticker": "X"}, [dict(d) for d in docs])
        assert collection.count_documents({"ticker": "X"}) == 100, "a deleted row comes back"
        changed = [{**d, "close": d["close"] + 1} for d in docs]
        replace_documents(collection, {"ticker": "X"}, changed)
        assert collection.find_one({"day": 7})["close"] == 8.0, "changed data is written"
    finally:
        client.drop_database(db.name)
        client.close()
