"""Named gates (spec 002): a pipeline or plugin that requires a closed gate does not start.

    gates   one document per gate, _id = its name: {open, changed_at, changed_by, reason}

A gate nobody has set is open: naming it in `gates:` (pipelines.yaml) or GATES (a
plugin) changes nothing until someone closes it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

GATES = "gates"


def set_gate(db: Database[Any], name: str, is_open: bool, by: str,
             reason: str | None = None) -> dict:
    """Open or close a gate (creating it); the gate as stored."""
    fields = {"open": is_open, "changed_at": datetime.now(timezone.utc), "changed_by": by,
              "reason": reason or ""}
    doc = db[GATES].find_one_and_update({"_id": name}, {"$set": fields}, upsert=True,
                                        return_document=ReturnDocument.AFTER)
    return gate_view(doc or {"_id": name, **fields})


def list_gates(db: Database[Any]) -> list[dict]:
    """Every gate ever set, by name."""
    return [gate_view(doc) for doc in db[GATES].find().sort("_id", 1)]


def closed_gates(db: Database[Any], names: Iterable[str]) -> dict[str, dict]:
    """{name: gate} of those of `names` that are closed."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    return {doc["_id"]: gate_view(doc)
            for doc in db[GATES].find({"_id": {"$in": wanted}, "open": False})}


def gate_view(doc: dict) -> dict:
    return {"name": doc["_id"], "open": bool(doc.get("open", True)),
            "changed_at": doc.get("changed_at"), "changed_by": doc.get("changed_by"),
            "reason": doc.get("reason") or ""}
