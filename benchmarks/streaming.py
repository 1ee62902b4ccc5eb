"""Streaming a CSV bigger than a worker's memory: parse -> per-ticker aggregate -> write Parquet.

    .venv/bin/python benchmarks/streaming.py [--rows 20000000] [--blocksize 64MB] [--repeat 1]

A generated CSV of --rows seeded random ticks (~75 bytes a row, as the issue sizes it: 20 M
rows is ~1.5 GB; an ISO timestamp, ticker, price, size, venue, bid, ask) goes
through pipeline `ticks`: `parse` returns `dd.read_csv` (a dask DataFrame), `aggregate`
(STREAM = True) sums each chunk per ticker, `write` combines the partial sums and writes
Parquet. Printed: peak RSS (MiB) of each worker at --rows/4 and --rows (target < 500 MB,
and flat), rows/s against a hand-written `dask.dataframe` script doing the same on the same
LocalCluster (2 processes x 1 thread; target >= 0.8x), and the time of a `dataflow run`
killed (SIGKILL) at 60% of its chunks plus `dataflow resume`, against an uninterrupted
`dataflow run` (target <= 1.15x; --repeat pairs, medians; where the time goes:
benchmarks/stream_kill.py). Both outputs are compared with the script's. The machine's
load average is printed before and after: the figures are only as quiet as the machine.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import psutil

import harness
import stream_kill
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
        handle.write("ts,ticker,price,size,venue,bid,ask\n")
        for start in range(0, rows, block):
            count = min(block, rows - start)
            micros = np.datetime64("2024-01-02T09:30:00", "us") + np.arange(start, start + count) * 7
            price = np.round(rng.uniform(1, 900, count), 4)
            spread = np.round(rng.uniform(0.01, 0.05, count), 4)
            pd.DataFrame({"ts": np.char.add(np.datetime_as_string(micros, unit="us"), "Z"),
                          "ticker": tickers[rng.integers(0, len(tickers), count)],
                          "price": price, "size": rng.integers(1, 5000, count),
                          "venue": rng.choice(["XNAS", "XNYS", "BATS"], count),
                          "bid": price - spread, "ask": price + spread}).to_csv(
                handle, header=False, index=False, float_format="%.4f")


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


def benchmark(args, workdir: Path) -> dict:
    load_before = [round(x, 2) for x in os.getloadavg()]
    with contextlib.ExitStack() as stack:
        store = harness.open_store(stack, workdir)
        client = harness.local_cluster(stack)
        small = in_process(args, workdir, client, max(1, args.rows // 4))
        large = in_process(args, workdir, client, args.rows)
        for figures in (small, large):
            print({k: v for k, v in figures.items() if k != "csv"}, flush=True)
        args.plugins = PLUGINS
        killed = stream_kill.kill_and_resume(args, workdir, large["csv"], store)
        print(killed, flush=True)
    return {"rows": args.rows, "peak_rss_mb_small": small["peak_rss_mb"],
            "peak_rss_mb": large["peak_rss_mb"], "speed_vs_script": large["speed_vs_script"],
            "dataflow_rows_per_s": large["dataflow_rows_per_s"], **killed,
            "load_avg_before": load_before,
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}


def add_options(parser) -> None:
    parser.add_argument("--rows", type=int, default=20_000_000, help="rows of the CSV")
    parser.add_argument("--blocksize", default="64MB", help="bytes of CSV per chunk")
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs of CLI runs (uninterrupted, killed + resumed): medians")


if __name__ == "__main__":
    sys.exit(harness.run_benchmark(__doc__, add_options, benchmark, "dataflow-stream-",
                                   print_summary=True))
