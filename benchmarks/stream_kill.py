"""The kill-and-resume figures of benchmarks/streaming.py, with where the time goes.

`dataflow run ticks` (a CLI process, its own LocalCluster of 2 workers) uninterrupted, then
SIGKILLed once the chain's checkpoint passes 60% of the chunks and `dataflow resume`d; both
timed from process start to process exit. The seconds until the killed run is found
interrupted (its heartbeat stale) are not counted. Each pair is run `repeat` times, in
alternating order (AB BA ...), the medians reported. Phases of a CLI run, from the store's
records: `start` (Python, plugins, store, cluster: launch → run recorded started),
`first_chunk` (run started → the first chunk checkpointed: parse's `dd.read_csv`, one
chunk; the workers' imports were made by the worker server, cluster/worker_server.py),
`stream` (the driving task, start to end), `write`, `exit` (run finished → process gone).
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pymongo

import harness

SYSTEM = "cluster:\n  n_workers: 2\n  max_workers: 2\n"


class Checkpoints:
    """When each `next_chunk` of the stream checkpoint was first seen (polled every 50 ms)."""

    def __init__(self, db):
        self.db, self.seen, self.stop = db, {}, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.wait(0.05):
            for saved in self.db["stream_checkpoints"].find({}, {"next_chunk": 1}):
                self.seen.setdefault(saved["next_chunk"], time.time())

    def reached(self, chunk: int) -> float | None:
        """When the checkpoint first said `chunk` or more."""
        times = [when for index, when in self.seen.items() if index >= chunk]
        return min(times) if times else None

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(5)


def _cli(args: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataflow", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _epoch(when: datetime) -> float:
    return when.replace(tzinfo=timezone.utc).timestamp()


def phases(db, run_id: str, launched: float, exited: float, first_chunk: float | None) -> dict:
    """Seconds of each phase of one CLI run (see the module's docstring)."""
    run = db["runs"].find_one({"_id": run_id})
    task = {t["plugin"]: t for t in db["tasks"].find({"run_id": run_id})}
    started, finished = _epoch(run["started"]), _epoch(run["finished"])
    figures = {"wall": exited - launched, "start": started - launched,
               "first_chunk": (first_chunk - started) if first_chunk else None,
               "stream": _epoch(task["parse"]["finished"]) - _epoch(task["parse"]["started"]),
               "write": _epoch(task["write"]["finished"]) - _epoch(task["write"]["started"]),
               "exit": exited - finished}
    return {k: round(v, 2) if v is not None else None for k, v in figures.items()}


def _interrupted(env: dict) -> bool:
    listed = subprocess.run([sys.executable, "-m", "dataflow", "runs"], env=env, text=True,
                            capture_output=True)
    return "interrupted" in listed.stdout


def uninterrupted(env: dict, db) -> dict:
    watch, launched = Checkpoints(db), time.time()
    if _cli(["run", "ticks"], env).wait() != 0:
        raise RuntimeError("dataflow run ticks failed")
    exited = time.time()
    watch.finish()
    run_id = db["runs"].find_one({}, {"_id": 1})["_id"]
    figures = phases(db, run_id, launched, exited, watch.reached(1))
    return {**figures, "reached": {k: v - launched for k, v in watch.seen.items()}}


def killed(env: dict, db, share: float, chunks: int) -> dict:
    """A `dataflow run` SIGKILLed once `share` of the chunks are checkpointed, resumed."""
    launched = time.time()
    process = _cli(["run", "ticks"], env)
    at = harness.poll(lambda: (db["stream_checkpoints"].find_one() or {}).get("next_chunk", 0)
                      >= share * chunks and db["stream_checkpoints"].find_one(), 3600,
                      f"{share:.0%} of the chunks", interval=0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(60)
    ran, old_id = time.time() - launched, at["run_id"]
    harness.poll(lambda: _interrupted(env), 300, "the run found interrupted", interval=0.5)
    watch, launched = Checkpoints(db), time.time()
    if _cli(["resume", old_id], env).wait() != 0:
        raise RuntimeError(f"dataflow resume {old_id} failed")
    exited = time.time()
    watch.finish()
    new_id = db["runs"].find_one({"resumed_from": old_id})["_id"]
    start = db["stream_checkpoints"].find_one({"run_id": old_id})["next_chunk"]
    resumed = phases(db, new_id, launched, exited, watch.reached(start + 1))
    return {"killed_s": round(ran, 2), "chunks_at_kill": at["next_chunk"],
            "resumed_at_chunk": start, "resume": resumed}


def _pair(args, workdir: Path, csv: Path, store, chunks: int, index: int) -> dict:
    figures: dict = {}
    # AB BA ...: whichever of the two goes first in a pair is not favoured on average
    for kind in ("uninterrupted", "killed")[::1 if index % 2 == 0 else -1]:
        root = harness.write_project(workdir / f"cli-{kind}-{index}", {"ticks": [
            "parse", "aggregate", "write"]}, args.plugins, SYSTEM)
        with open(root / "config" / "pipelines.yaml", "a") as handle:
            handle.write(f"plugin_config:\n  parse: {{path: '{csv}', blocksize: "
                         f"{args.blocksize}}}\n  write: {{out: '{workdir / kind}.pq'}}\n")
        env = {**os.environ, "DATAFLOW_PROJECT": str(root),
               "DATAFLOW_MONGO_DB": f"{store.database}_{kind}_{index}"}
        db = pymongo.MongoClient(store.uri)[env["DATAFLOW_MONGO_DB"]]
        try:
            figures[kind] = uninterrupted(env, db) if kind == "uninterrupted" else \
                killed(env, db, 0.6, chunks)
        finally:
            db.client.drop_database(env["DATAFLOW_MONGO_DB"])
            db.client.close()
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / "killed.pq"),
                                  pd.read_parquet(workdir / "uninterrupted.pq"))
    return _compared(figures["uninterrupted"], figures["killed"])


def _compared(whole: dict, cut: dict) -> dict:
    """The ratio, and the resume's extra seconds against the rest of the whole run."""
    reached = [v for k, v in whole.pop("reached").items() if k >= cut["resumed_at_chunk"]]
    same_point = min(reached) if reached else whole["wall"]
    total = cut["killed_s"] + cut["resume"]["wall"]
    return {"uninterrupted": whole, **cut, "ratio": round(total / whole["wall"], 3),
            "killed_minus_same_point_s": round(cut["killed_s"] - same_point, 2),
            "resume_minus_rest_s": round(cut["resume"]["wall"] - (whole["wall"] - same_point),
                                         2)}


def kill_and_resume(args, workdir: Path, csv: Path, store) -> dict:
    """`repeat` pairs (uninterrupted, killed at 60% + resumed); the medians and each pair."""
    chunks = int(dd.read_csv(csv, blocksize=args.blocksize).npartitions)
    pairs = []
    for index in range(args.repeat):
        pairs.append(_pair(args, workdir, csv, store, chunks, index))
        print(pairs[-1], flush=True)
    def median(values) -> float:
        return round(statistics.median(values), 2)
    return {"chunks": chunks,
            "uninterrupted_s": median(p["uninterrupted"]["wall"] for p in pairs),
            "killed_at_60pct_plus_resume_s": median(p["killed_s"] + p["resume"]["wall"]
                                                    for p in pairs),
            "kill_resume_ratio": median(p["ratio"] for p in pairs),
            "resume_start_s": median(p["resume"]["start"] for p in pairs),
            "resume_first_chunk_s": median(p["resume"]["first_chunk"] or 0 for p in pairs),
            "resume_minus_rest_s": median(p["resume_minus_rest_s"] for p in pairs)}
