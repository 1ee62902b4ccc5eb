"""Pipelines stored in the database (collection `pipelines`, _id = the pipeline's name)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

if TYPE_CHECKING:
    from pymongo.database import Database

COLLECTION = "pipelines"


def stored_pipelines(db: Database[Any]) -> dict[str, dict]:
    return {document["_id"]: document for document in db[COLLECTION].find()}


def stored_pipeline(db: Database[Any], name: str) -> dict | None:
    return db[COLLECTION].find_one({"_id": name})


def insert_pipeline(db: Database[Any], document: dict) -> bool:
    """Insert a new pipeline document; False when one of that name exists."""
    try:
        db[COLLECTION].insert_one(document)
    except DuplicateKeyError:
        return False
    return True


def replace_pipeline(db: Database[Any], document: dict) -> None:
    db[COLLECTION].replace_one({"_id": document["_id"]}, document)


def delete_pipeline(db: Database[Any], name: str) -> None:
    db[COLLECTION].delete_one({"_id": name})
