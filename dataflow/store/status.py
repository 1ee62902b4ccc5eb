"""What `dataflow db status` (and the API's health) reports about the store."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataflow.store.connection import StoreAddress
from dataflow.store.schema import MIGRATIONS, schema_status

if TYPE_CHECKING:
    from pymongo.database import Database


def migration_title(version: int) -> str:
    doc = (MIGRATIONS[version].__doc__ or "").strip().splitlines()
    return doc[0] if doc else f"migration {version}"


def collection_counts(db: Database[Any]) -> dict[str, int]:
    """Every collection of a database with its (estimated) document count."""
    return {name: db[name].estimated_document_count() for name in sorted(db.list_collection_names())}


def store_status(address: StoreAddress) -> dict:
    """Where the store is (credentials removed), its schema and its collections."""
    db = address.system_db()
    status = schema_status(db)
    return {"uri": address.redacted(), "database": address.database,
            "data_database": address.data_database, "embedded": address.embedded, **status,
            "pending": [{"version": v, "title": migration_title(v)} for v in status["pending"]],
            "collections": collection_counts(db)}
