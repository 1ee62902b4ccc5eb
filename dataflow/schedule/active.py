"""Which runs of each pipeline are active, for the overlap rules: the store's view, with
this process's own runs taken from its Engine, whose records reach the store a moment
late (the Recorder writes in batches): a run started a moment ago counts, a run that
just ended does not."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone


def _started_key(run: tuple) -> tuple:
    started = run[0]
    return (started is None, started.timestamp() if started else 0.0)


def active_runs(stored: dict[str, list[dict]], here: dict) -> dict[str, list[str]]:
    """{pipeline: active run ids, oldest first} from `stored` ({pipeline: run documents
    with _id, started, host, pid}) and `here` (this process's Engine.active_runs)."""
    me = (socket.gethostname(), os.getpid())
    found = {pipeline: [(run.get("started"), run["_id"]) for run in runs
                        if (run.get("host"), run.get("pid")) != me and run["_id"] not in here]
             for pipeline, runs in stored.items()}
    for run_id, handle in here.items():
        found.setdefault(handle.plan.pipeline, []).append(
            (datetime.fromtimestamp(handle.started, timezone.utc), run_id))
    return {pipeline: [run_id for _, run_id in sorted(runs, key=_started_key)]
            for pipeline, runs in found.items()}
