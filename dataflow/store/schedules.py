"""The scheduler's documents: fire records, per-pipeline state (last fire, pause), the
lease that decides which loop fires, and the loops' own start/heartbeat/stop records.

    schedule_claims  one per fire time decided, _id as its fire record's: {holder,
                     decided}. Inserted BEFORE a run is triggered: an insert refused as a
                     duplicate means another loop decided that fire time, and nothing is
                     started. Indexed by `_id` only, so a burst's claim is cheap.
    schedule_fires   one per (pipeline, logical time), _id "<pipeline>:<logical time ISO>":
                     {pipeline, logical_time, due, decided, outcome, reason, run_id, ...};
                     stored once claimed — a burst's right after its runs are submitted.
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
CLAIMS = "schedule_claims"
PRUNE_BATCH = 1000
LEASE_ID = "scheduler"
DUPLICATE_KEY = 11000
RECENT_WINDOWS = (timedelta(days=1), None)     # recent fires: the last day first, then all
QUEUED_INDEX, OLD_OUTCOME_INDEX = "queued_fires", "outcome_1"


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
    """The indexes the scheduler's queries use (idempotent, cheap once they exist). Each
    index costs every claim (a burst's insert), so: a pipeline's fires, prune and recent
    fires by `decided`, and the queued ones in a partial index that holds only them (the
    old index of every record's outcome is dropped)."""
    db[FIRES].create_index([("pipeline", ASCENDING), ("logical_time", DESCENDING)])
    db[FIRES].create_index([("decided", DESCENDING)])
    db[FIRES].create_index([("logical_time", ASCENDING)], name=QUEUED_INDEX,
                           partialFilterExpression={"outcome": str(FireOutcome.QUEUED)})
    if OLD_OUTCOME_INDEX in db[FIRES].index_information():
        db[FIRES].drop_index(OLD_OUTCOME_INDEX)


# --- fire records ---------------------------------------------------------------------------

def _insert_new(collection, documents: list[dict]) -> set[str]:
    """Insert `documents` (each with its `_id`) in one call; the ids inserted (those
    refused as duplicates were there already)."""
    if not documents:
        return set()
    refused: set[str] = set()
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        refused = {documents[e["index"]]["_id"] for e in errors}
    return {document["_id"] for document in documents} - refused


def claim_fires(db, records: list[dict]) -> set[str]:
    """Claim the fire times of `records` (their `_id`s) in `schedule_claims`, in one
    insert; the ids claimed. A claim refused as a duplicate was made by another loop (or
    an earlier life of this one). Only `_id` is indexed there: each index would cost the
    claim of a burst, which lies between the due instant and its runs' start."""
    return _insert_new(db[CLAIMS], [{"_id": r["_id"], "holder": r.get("holder"),
                                     "decided": r.get("decided")} for r in records])


def store_fires(db, records: list[dict]) -> None:
    """Store the fire records of claimed fire times (one already stored, by a loop of
    an older version, is left as it is)."""
    _insert_new(db[FIRES], records)


def claim_and_store(db, records: list[dict]) -> set[str]:
    """Claim, then store the records claimed (before anything is started); the ids."""
    claimed = claim_fires(db, records)
    store_fires(db, [record for record in records if record["_id"] in claimed])
    return claimed


def take_queued(db, key: str, fields: dict) -> bool:
    """Turn a queued fire record into `fields` (e.g. started); False when it is no longer
    queued (another loop took it)."""
    return db[FIRES].find_one_and_update({"_id": key, "outcome": FireOutcome.QUEUED},
                                         {"$set": fields}) is not None


def queued_fires(db) -> list[dict]:
    """Every queued fire record, oldest logical time first."""
    return list(db[FIRES].find({"outcome": str(FireOutcome.QUEUED)}).sort("logical_time",
                                                                           ASCENDING))


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
    """Delete fire records decided before `before`, and their claims; how many went."""
    old = {"decided": {"$lt": before}}
    keys = [doc["_id"] for doc in db[FIRES].find(old, {"_id": 1})]
    for start in range(0, len(keys), PRUNE_BATCH):
        db[CLAIMS].delete_many({"_id": {"$in": keys[start:start + PRUNE_BATCH]}})
    return db[FIRES].delete_many(old).deleted_count


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
