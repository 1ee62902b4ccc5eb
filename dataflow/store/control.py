"""Control requests written to the store, for runs orchestrated by another process."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from dataflow.errors import DataflowError
from dataflow.store.history import find_run_id

ACTIVE_STATUSES = ("running",)


def request_cancel_in_store(db, run_id: str, plugin: str | None = None) -> str:
    """Ask the process running `run_id` to cancel it (or one plugin); returns the full id."""
    full_id = find_run_id(db, run_id)
    run = db["runs"].find_one({"_id": full_id}, {"status": 1})
    if run.get("status") not in ACTIVE_STATUSES:
        raise DataflowError(f"run {full_id} is not running (status {run.get('status')}); "
                            "only running runs can be cancelled")
    if plugin is not None and not db["tasks"].find_one({"run_id": full_id, "plugin": plugin}):
        raise DataflowError(f"run {full_id} has no plugin {plugin!r}; see `dataflow show {full_id[:12]}`")
    db["cancel_requests"].insert_one({"_id": uuid.uuid4().hex, "run_id": full_id, "plugin": plugin,
                                      "requested": datetime.now(timezone.utc), "handled": None})
    return full_id
