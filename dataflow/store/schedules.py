"""The scheduler's documents: fire records, per-pipeline state (last fire, pause), the
lease that decides which loop fires, and the loops' own start/heartbeat/stop records.

    schedule_fires   one per (pipeline, logical time), _id "<pipeline>:<logical time ISO>":
                     {pipeline, logical_time, due, decided, outcome, reason, run_id, ...}.
                     Inserted BEFORE a run is triggered: an insert refused as a duplicate
                     means another loop decided that fire time, and nothing is started.
    schedule_state   one per pipeline, _id = its name: {watched_since, last_fired,
                     last_outcome, last_reason, last_run_id, ...} and, while set, the pause override {paused,
                     paused_by, since} that wins over the YAML `paused:`.
    schedule_lease   one document {_id: "scheduler", holder, expires}: taken or renewed
                     atomically when expired or already ours.
    scheduler_loops  one per loop ever started, _id = its holder id: {host, pid, started,
                     heartbeat, last_tick, stopped}.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dataflow.statuses import ACTIVE_RUN_STATUSES, TaskStatus

FIRES, STATE, LEASE, LOOPS = ("schedule_fires", "schedule_state", "schedule_lease",
                              "scheduler_loops")
LEASE_ID = "scheduler"
DUPLICATE_KEY = 11000
RECENT_WINDOWS = (timedelta(days=1), None)     # recent fires: the last day first, then all


class FireOutcome(StrEnum):
    """What became of one fire time (a decision, not a run status)."""

    STARTED = "started"
    SKIPPED = str(TaskStatus.SKIPPED)       # the same word as a skipped task
    MISSED = "missed"
    QUEUED = "queued"
    PAUSED = "paused"
    REFUSED = "refused"     # an upstream not fresh or a gate closed (schedule/upstream.py)
    WAITING = "waiting"     # the same with on_unmet: wait; tried again at the next ticks


def fire_id(pipeline: str, logical_time: datetime) -> str:
    return f"{pipeline}:{logical_time.isoformat()}"


def ensure_indexes(db) -> None:
    """The indexes the scheduler's queries use (idempotent, cheap once they exist)."""
    db[FIRES].create_index([("pipeline", ASCENDING), ("logical_time", DESCENDING)])
    db[FIRES].create_index([("decided", DESCENDING)])
    db[FIRES].create_index([("outcome", ASCENDING)])


# --- fire records ---------------------------------------------------------------------------

def claim_fires(db, records: list[dict]) -> set[str]:
    """Insert fire records (each with its `_id`); the ids inserted. A record refused as a
    duplicate was decided by another loop (or an earlier life of this one)."""
    if not records:
        return set()
    refused: set[str] = set()
    try:
        db[FIRES].insert_many(records, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        refused = {records[e["index"]]["_id"] for e in errors}
    return {record["_id"] for record in records} - refused


def take_queued(db, key: str, fields: dict) -> bool:
    """Turn a queued fire record into `fields` (e.g. started); False when it is no longer
    queued (another loop took it)."""
    return db[FIRES].find_one_and_update({"_id": key, "outcome": FireOutcome.QUEUED},
                                         {"$set": fields}) is not None


def queued_fires(db) -> list[dict]:
    """Every queued fire record, oldest logical time first."""
    return list(db[FIRES].find({"outcome": FireOutcome.QUEUED}).sort("logical_time", ASCENDING))


def recent_fires(db, now: datetime, pipeline: str | None = None, limit: int = 20) -> list[dict]:
    """The most recently decided fire records, newest first (of one pipeline if given)."""
    query = {"pipeline": pipeline} if pipeline else {}
    for window in RECENT_WINDOWS:
        bounded = {**query, "decided": {"$gte": now - window}} if window else query
        found = list(db[FIRES].find(bounded).sort("decided", DESCENDING).limit(limit))
        if len(found) >= limit or window is None:
            return found
    return []


def prune_fires(db, before: datetime) -> int:
    """Delete fire records decided before `before`; how many went."""
    return db[FIRES].delete_many({"decided": {"$lt": before}}).deleted_count


def active_runs_by_pipeline(db) -> dict[str, list[dict]]:
    """{pipeline: [{_id, started, host, pid}, ...]} of every active run, in one query."""
    found: dict[str, list[dict]] = {}
    for run in db["runs"].find({"status": {"$in": list(ACTIVE_RUN_STATUSES)}},
                               {"pipeline": 1, "started": 1, "host": 1, "pid": 1}):
        found.setdefault(run.get("pipeline"), []).append(run)
    return found


# --- per-pipeline state ------------------------------------------------------------------

def pipeline_states(db, names: list[str] | None = None) -> dict[str, dict]:
    """{pipeline: state document}, of every pipeline or of `names`, in one query."""
    query = {} if names is None else {"_id": {"$in": list(names)}}
    return {doc["_id"]: doc for doc in db[STATE].find(query)}


def save_states(db, changes: dict[str, dict], now: datetime) -> None:
    """Upsert {pipeline: fields} (with `updated` = now) in one bulk write."""
    if changes:
        db[STATE].bulk_write([UpdateOne({"_id": name}, {"$set": {**fields, "updated": now}},
                                        upsert=True)
                              for name, fields in changes.items()], ordered=False)


def pause_overrides(db) -> dict[str, dict]:
    """{pipeline: {paused, paused_by, since}} for every pipeline with a pause override."""
    return {doc["_id"]: doc for doc in db[STATE].find(
        {"paused": {"$in": [True, False]}}, {"paused": 1, "paused_by": 1, "since": 1})}


def set_pause(db, pipeline: str, paused: bool | None, by: str, now: datetime) -> None:
    """Set the pause override of a pipeline (None: remove it, the YAML value applies)."""
    if paused is None:
        db[STATE].update_one({"_id": pipeline}, {"$unset": {"paused": "", "paused_by": "",
                                                            "since": ""}})
        return
    db[STATE].update_one({"_id": pipeline}, {"$set": {"paused": paused, "paused_by": by,
                                                      "since": now}}, upsert=True)


# --- the lease and the loops ------------------------------------------------------------

def take_lease(db, holder: str, now: datetime, ttl: float) -> bool:
    """Take or renew the lease: atomically, only when it expired or is already ours."""
    try:
        document = db[LEASE].find_one_and_update(
            {"_id": LEASE_ID, "$or": [{"expires": {"$lt": now}}, {"holder": holder}]},
            {"$set": {"holder": holder, "expires": now + timedelta(seconds=ttl),
                      "renewed": now}},
            upsert=True, return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:          # it exists, unexpired, someone else's
        return False
    return document is not None and document.get("holder") == holder


def release_lease(db, holder: str, now: datetime) -> None:
    """Give the lease up at once (if ours), so a standby loop takes over at its next tick."""
    db[LEASE].update_one({"_id": LEASE_ID, "holder": holder}, {"$set": {"expires": now}})


def lease(db) -> dict | None:
    return db[LEASE].find_one({"_id": LEASE_ID})


def loop_started(db, holder: str, fields: dict, now: datetime) -> None:
    db[LOOPS].replace_one({"_id": holder}, {**fields, "started": now, "heartbeat": now,
                                            "stopped": None}, upsert=True)


def loop_heartbeat(db, holder: str, fields: dict) -> None:
    db[LOOPS].update_one({"_id": holder}, {"$set": fields})


def loop_stopped(db, holder: str, now: datetime, reason: str) -> None:
    db[LOOPS].update_one({"_id": holder}, {"$set": {"stopped": now, "stop_reason": reason}})


def recent_loops(db, limit: int = 5) -> list[dict]:
    """The loops that started most recently, newest first."""
    return list(db[LOOPS].find().sort("started", DESCENDING).limit(limit))
