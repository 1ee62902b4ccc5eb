"""Plugin config in the store: the current version per (plugin, pipeline) and its history.

    plugin_configs   _id "<plugin>:<pipeline>" → the current stored layer and its version
    config_history   _id "<plugin>:<pipeline>:<version>" → every version ever stored
    meta             _id "config-version:<plugin>:<pipeline>" → the version counter
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo import DESCENDING, ReturnDocument

if TYPE_CHECKING:
    from pymongo.database import Database


def stored_configs(db: Database[Any], pipeline: str) -> dict[str, dict]:
    """Stored config of every plugin for a pipeline, in one query."""
    return {doc["plugin"]: doc.get("config") or {} for doc in
            db["plugin_configs"].find({"pipeline": pipeline}, {"plugin": 1, "config": 1})}


def all_stored_configs(db: Database[Any]) -> dict[str, dict[str, dict]]:
    """Stored config by pipeline, then plugin, in one query."""
    found: dict[str, dict[str, dict]] = {}
    for doc in db["plugin_configs"].find({}, {"plugin": 1, "pipeline": 1, "config": 1}):
        found.setdefault(doc["pipeline"], {})[doc["plugin"]] = doc.get("config") or {}
    return found


def current_config(db: Database[Any], plugin_id: str, pipeline: str) -> dict:
    """The current stored record (config, version, updated, author), or {}."""
    return db["plugin_configs"].find_one({"_id": f"{plugin_id}:{pipeline}"}) or {}


def store_config_version(db: Database[Any], record: dict) -> dict:
    """Store `record` (plugin, pipeline, config, ...) as the next version; returns it."""
    key = f"{record['plugin']}:{record['pipeline']}"
    counter = db["meta"].find_one_and_update(
        {"_id": f"config-version:{key}"}, {"$inc": {"value": 1}},
        upsert=True, return_document=ReturnDocument.AFTER)
    assert counter is not None      # an upsert returning the document AFTER always has one
    record = {**record, "version": counter["value"]}
    db["config_history"].insert_one({"_id": f"{key}:{counter['value']}", **record})
    db["plugin_configs"].replace_one({"_id": key}, record, upsert=True)
    return record


def config_history(db: Database[Any], plugin_id: str, pipeline: str) -> list[dict]:
    """Every stored version, newest first."""
    return list(db["config_history"].find(
        {"plugin": plugin_id, "pipeline": pipeline}, {"_id": 0}).sort("version", DESCENDING))


def config_version(db: Database[Any], plugin_id: str, pipeline: str, version: int) -> dict | None:
    return db["config_history"].find_one({"_id": f"{plugin_id}:{pipeline}:{version}"})


def stored_records(db: Database[Any], pipeline: str | None = None,
                   plugin_id: str | None = None) -> list[dict]:
    """The current stored records (plugin, pipeline, config, version, plugin_version: the
    plugin's VERSION when it was saved) of one pipeline and/or plugin, or all."""
    query = {key: value for key, value in (("pipeline", pipeline), ("plugin", plugin_id))
             if value is not None}
    return list(db["plugin_configs"].find(query, {
        "plugin": 1, "pipeline": 1, "config": 1, "version": 1, "plugin_version": 1}))
