"""Output caching, opt-in per plugin (`CACHE = {"ttl": seconds}`, spec 003).

An output is keyed by (plugin source hash, config, its inputs' keys): the same code
on the same config and inputs gives the cached output instead of running again,
until the entry is `ttl` seconds old. Inputs are keyed by their own cache key when
they have one, else by a content token (dask's tokenize, deterministic for pandas
and numpy data). Entries live in the `cache` collection and point at a checkpoint.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from dask.base import tokenize

from dataflow.worker.checkpoints import load_checkpoint

if TYPE_CHECKING:
    from dataflow.model import Outcome, PlannedTask, RunEnv


def input_key(outcome: Outcome) -> str:
    return outcome.extra.get("cache_key") or tokenize(outcome.output)


def cache_key(task: PlannedTask, upstream: tuple[Outcome, ...]) -> str:
    inputs = {outcome.plugin: input_key(outcome) for outcome in upstream if outcome.ok}
    material = json.dumps({"plugin": task.plugin, "source": task.ref.source_hash,
                           "config": task.config, "inputs": inputs},
                          sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def cached_output(env: RunEnv, key: str) -> tuple[bool, Any]:
    """(True, output) for a live entry whose checkpoint can be read, else (False, None)."""
    entry = env.store.system_db()["cache"].find_one(
        {"_id": key, "expires": {"$gt": datetime.now(timezone.utc)}})
    if entry is None:
        return False, None
    try:
        return True, load_checkpoint(env.store, entry["checkpoint"])
    except (FileNotFoundError, OSError):
        return False, None


def remember(env: RunEnv, key: str, plugin: str, checkpoint: dict | None, ttl: float) -> None:
    if checkpoint is None:
        return
    now = datetime.now(timezone.utc)
    env.store.system_db()["cache"].replace_one({"_id": key}, {
        "plugin": plugin, "run_id": env.run_id, "checkpoint": checkpoint, "created": now,
        "expires": now + timedelta(seconds=ttl)}, upsert=True)
