"""Streaming a CSV bigger than memory: parse -> per-ticker aggregate -> write Parquet.

    .venv/bin/python benchmarks/streaming.py [--rows 20000000] [--blocksize 64MB]

A generated CSV of --rows seeded random ticks (~75 bytes a row: 20 M rows is ~1.5 GB) goes
through pipeline `ticks`: `parse` returns `dd.read_csv` (a dask DataFrame), `aggregate`
(STREAM = True) sums each chunk per ticker, `write` combines the partial sums and writes
Parquet. Printed: peak RSS of each worker at --rows/4 and --rows (target < 500 MB, and
flat), rows/s against a hand-written `dask.dataframe` script doing the same on the same
LocalCluster (2 processes x 1 thread; target >= 0.8x), and the time of a `dataflow run`
killed (SIGKILL) at 60% of its chunks plus `dataflow resume`, against an uninterrupted
`dataflow run` (target <= 1.15x). Both outputs are compared with the script's.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import psutil
import pymongo

import harness
from dataflow import Engine

PLUGINS = {
    "parse": '''import dask.dataframe as dd
PLUGIN_NAME, HOOKS = "parse", ["parse"]
def run(context, config):
    return dd.read_csv(config["path"], blocksize=config["blocksize"])
''',
    "aggregate": '''PLUGIN_NAME, HOOKS, STREAM = "aggregate", ["aggregate"], True
def run_chunk(context, config, chunk):
    chunk = chunk.assign(notional=chunk["price"] * chunk["size"])
    return chunk.groupby("ticker", as_index=False).agg(
        trades=("size", "count"), volume=("size", "sum"), notional=("notional", "sum"),
        high=("price", "max"), low=("price", "min"))
''',
    "write": '''PLUGIN_NAME, HOOKS = "write", ["write"]
def run(context, config):
    partial = context["inputs"]["aggregate"].compute()
    totals = partial.groupby("ticker").agg({"trades": "sum", "volume": "sum",
        "notional": "sum", "high": "max", "low": "min"}).sort_index()
    totals.to_parquet(config["out"])
    return {"tickers": len(totals)}
''',
}


def write_ticks(path: Path, rows: int, block: int = 1_000_000) -> None:
    rng = np.random.default_rng(20)
    tickers = np.array([f"TCK{i:04d}" for i in range(500)])
    with open(path, "w") as handle:
        handle.write("ts,ticker,price,size,venue\n")
        for start in range(0, rows, block):
            count = min(block, rows - start)
            pd.DataFrame({"ts": 1_700_000_000_000 + np.arange(start, start + count) * 7,
                          "ticker": tickers[rng.integers(0, len(tickers), count)],
                          "price": np.round(rng.uniform(1, 900, count), 4),
                          "size": rng.integers(1, 5000, count),
                          "venue": rng.choice(["XNAS", "XNYS", "BATS"], count)}).to_csv(
                handle, header=False, index=False)


def by_hand(path: Path, blocksize: str) -> pd.DataFrame:
    """The hand-written dask.dataframe script: the same totals, no dataflow."""
    frame = dd.read_csv(path, blocksize=blocksize)
    frame = frame.assign(notional=frame["price"] * frame["size"])
    return frame.groupby("ticker").agg(
        trades=("size", "count"), volume=("size", "sum"), notional=("notional", "sum"),
        high=("price", "max"), low=("price", "min")).compute().sort_index()


class PeakRss:
    """The peak RSS of each worker process, sampled every 50 ms on a thread."""

    def __init__(self, client):
        self.processes = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.peaks = [0] * len(self.processes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.wait(0.05):
            for index, process in enumerate(self.processes):
                with contextlib.suppress(psutil.Error):
                    self.peaks[index] = max(self.peaks[index], process.memory_info().rss)

    def finish(self) -> list[int]:
        self.stop.set()
        self.thread.join(5)
        return [round(peak / 2**20) for peak in self.peaks]


def project(root: Path, csv: Path, blocksize: str, out: Path, system: str) -> Path:
    harness.write_project(root, {"ticks": ["parse", "aggregate", "write"]}, PLUGINS, system)
    with open(root / "config" / "pipelines.yaml", "a") as handle:
        handle.write(f"plugin_config:\n  parse: {{path: '{csv}', blocksize: {blocksize}}}\n"
                     f"  write: {{out: '{out}'}}\n")
    return root


def in_process(args, workdir: Path, client, rows: int) -> dict:
    """One dataflow run and one hand-written script run of `rows` rows on `client`."""
    csv, out = workdir / f"ticks-{rows}.csv", workdir / f"out-{rows}.parquet"
    write_ticks(csv, rows)
    engine = Engine(harness.Project(project(workdir / f"p{rows}", csv, args.blocksize, out,
                                            harness.DEFAULT_SYSTEM_YAML)), client=client)
    try:
        harness.warm_up(engine, "ticks")
        sampler, started = PeakRss(client), time.perf_counter()
        harness.require_completed(engine.run("ticks", timeout=3600))
        seconds, peaks = time.perf_counter() - started, sampler.finish()
    finally:
        engine.close()
        engine.project.close()
    started = time.perf_counter()
    expected = by_hand(csv, args.blocksize)
    script = time.perf_counter() - started
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False,
                                  check_index_type=False)
    return {"rows": rows, "csv_mb": round(csv.stat().st_size / 2**20), "peak_rss_mb": peaks,
            "dataflow_rows_per_s": round(rows / seconds), "script_rows_per_s": round(
                rows / script), "speed_vs_script": round(script / seconds, 2), "csv": csv}


def _cli(args_: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataflow", *args_], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _interrupted(env: dict) -> bool:
    listed = subprocess.run([sys.executable, "-m", "dataflow", "runs"], env=env, text=True,
                            capture_output=True)
    return "interrupted" in listed.stdout


def _killed_at(env: dict, db, share: float, chunks: int) -> tuple[float, float]:
    """(seconds running until the kill + resuming, seconds until the run was found
    interrupted, not counted) of a `dataflow run` SIGKILLed at `share` of its chunks."""
    started = time.perf_counter()
    process = _cli(["run", "ticks"], env)
    harness.poll(lambda: (db["stream_checkpoints"].find_one() or {}).get("next_chunk", 0)
                 >= share * chunks, 3600, f"{share:.0%} of the chunks", interval=0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(60)
    ran = time.perf_counter() - started
    run_id = db["stream_checkpoints"].find_one()["run_id"]
    waited = time.perf_counter()
    harness.poll(lambda: _interrupted(env), 300, "the run found interrupted", interval=1)
    waited = time.perf_counter() - waited
    started = time.perf_counter()
    if _cli(["resume", run_id], env).wait() != 0:
        raise RuntimeError(f"dataflow resume {run_id} failed")
    return ran + time.perf_counter() - started, waited


def kill_and_resume(args, workdir: Path, csv: Path, store) -> dict:
    """`dataflow run` uninterrupted, then killed at 60% and resumed (CLI processes)."""
    chunks = int(dd.read_csv(csv, blocksize=args.blocksize).npartitions)
    system = "cluster:\n  n_workers: 2\n  max_workers: 2\n"
    times = {}
    for kind in ("uninterrupted", "killed"):
        root = project(workdir / f"cli-{kind}", csv, args.blocksize, workdir / f"{kind}.pq",
                       system)
        env = {**os.environ, "DATAFLOW_PROJECT": str(root),
               "DATAFLOW_MONGO_DB": f"{store.database}_{kind}"}
        db = pymongo.MongoClient(store.uri)[env["DATAFLOW_MONGO_DB"]]
        started = time.perf_counter()
        if kind == "uninterrupted":
            if _cli(["run", "ticks"], env).wait() != 0:
                raise RuntimeError("dataflow run ticks failed")
            times[kind] = time.perf_counter() - started
        else:
            times[kind], times["detect"] = _killed_at(env, db, 0.6, chunks)
        db.client.drop_database(env["DATAFLOW_MONGO_DB"])
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / "killed.pq"),
                                  pd.read_parquet(workdir / "uninterrupted.pq"))
    return {"chunks": chunks, "uninterrupted_s": round(times["uninterrupted"], 1),
            "killed_at_60pct_plus_resume_s": round(times["killed"], 1),
            "kill_resume_ratio": round(times["killed"] / times["uninterrupted"], 2),
            "found_interrupted_after_s (not counted)": round(times["detect"], 1)}


def benchmark(args, workdir: Path) -> dict:
    with contextlib.ExitStack() as stack:
        store = harness.open_store(stack, workdir)
        client = harness.local_cluster(stack)
        small = in_process(args, workdir, client, max(1, args.rows // 4))
        large = in_process(args, workdir, client, args.rows)
        for figures in (small, large):
            print({k: v for k, v in figures.items() if k != "csv"}, flush=True)
        killed = kill_and_resume(args, workdir, large["csv"], store)
        print(killed, flush=True)
    return {"rows": args.rows, "peak_rss_mb_small": small["peak_rss_mb"],
            "peak_rss_mb": large["peak_rss_mb"], "speed_vs_script": large["speed_vs_script"],
            "dataflow_rows_per_s": large["dataflow_rows_per_s"], **killed}


def add_options(parser) -> None:
    parser.add_argument("--rows", type=int, default=20_000_000, help="rows of the CSV")
    parser.add_argument("--blocksize", default="64MB", help="bytes of CSV per chunk")


if __name__ == "__main__":
    sys.exit(harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-stream-",
                                   print_summary=True))
