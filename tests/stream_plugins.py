"""Plugins and data of the streaming tests: a generated tick CSV read as a dask DataFrame,
parsed and aggregated chunk by chunk (STREAM = True), the totals written to Parquet."""
from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import plugin_source

TICKERS = [f"T{i:03d}" for i in range(200)]


def write_ticks(path, rows: int, seed: int = 7, block: int = 500_000) -> None:
    """A CSV of `rows` seeded random ticks (ticker, price, size, flag), written in blocks;
    every 1,000th row has a bad price ("n/a"), to be counted as failed."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("ticker,price,size,flag\n")
        for start in range(0, rows, block):
            count = min(block, rows - start)
            frame = pd.DataFrame({
                "ticker": rng.choice(TICKERS, count),
                "price": np.round(rng.uniform(1, 500, count), 4).astype(str),
                "size": rng.integers(1, 1000, count),
                "flag": rng.choice(["x", "y"], count)})
            frame.loc[(np.arange(count) + start) % 1000 == 999, "price"] = "n/a"
            frame.to_csv(handle, header=False, index=False)


def write_repeated_ticks(path, block_path, rows: int, block: int = 1_000_000) -> None:
    """A CSV of `rows` ticks written fast: `block` rows of write_ticks (kept in
    `block_path`) repeated; `rows` a multiple of `block` (itself of 1,000)."""
    write_ticks(block_path, block)
    header, body = block_path.read_bytes().split(b"\n", 1)
    with open(path, "wb") as handle:
        handle.write(header + b"\n")
        for _ in range(rows // block):
            handle.write(body)


def repeated_totals(block_path, times: int) -> pd.DataFrame:
    """expected_totals of a CSV that is `block_path`'s rows `times` over."""
    return expected_totals(block_path) * times


READ = """
import dask.dataframe as dd
return dd.read_csv(config["path"], blocksize=config.get("blocksize", "8MB"),
                   dtype={"ticker": "str", "price": config.get("price", "str"),
                          "size": "int64", "flag": "str"})
"""

PARSE = """
raise RuntimeError("run_chunk is the streamed entry point")
"""
PARSE_CODE = r"""
import pandas as pd
import os, time
def run_chunk(context, config, chunk):
    stream = context["stream"]
    if config.get("log"):
        with open(config["log"], "a") as handle:
            handle.write("%s %d\n" % (context["run_id"], stream.chunk))
    if config.get("slow"):
        time.sleep(config["slow"])
    broken = config.get("break_at")
    if broken is not None and stream.chunk == broken and not os.path.exists(config["fixed"]):
        raise RuntimeError("broke on purpose at chunk %d" % stream.chunk)
    price = pd.to_numeric(chunk["price"], errors="coerce")
    stream.failed(int(price.isna().sum()))
    keep = chunk["flag"] == "x"
    stream.skipped(int((~keep).sum()))
    out = chunk.assign(price=price)[price.notna() & keep]
    return out[["ticker", "price", "size"]]
"""

AGGREGATE_CODE = """
def run_chunk(context, config, chunk):
    chunk = chunk.assign(notional=chunk["price"] * chunk["size"])
    return chunk.groupby("ticker", as_index=False).agg(
        rows=("size", "count"), volume=("size", "sum"), notional=("notional", "sum"))
"""

WRITE = """
partials = context["inputs"]["aggregate"]
totals = partials.groupby("ticker").sum().compute().sort_index()
totals.to_parquet(config["out"])
return {"tickers": len(totals), "rows": int(totals["rows"].sum())}
"""


def stream_project(make_project, system: str = "", parse_config: str = "", rows_per_cp=None):
    """read → parse → aggregate → write, each plugin's config in pipelines.yaml."""
    extra = {"CHECKPOINT_ROWS": rows_per_cp} if rows_per_cp else {}
    return make_project(
        "pipelines:\n  ticks:\n    hooks: [read, parse, aggregate, write]\n" + parse_config,
        {"read": plugin_source("read", "read", body=READ),
         "parse": plugin_source("parse", "parse", body=PARSE, code=PARSE_CODE, STREAM=True,
                                **extra),
         "aggregate": plugin_source("aggregate", "aggregate", body=PARSE,
                                    code=AGGREGATE_CODE, STREAM=True, **extra),
         "write": plugin_source("write", "write", body=WRITE)}, system=system)


def expected_totals(path) -> pd.DataFrame:
    """What the pipeline should produce, computed with pandas in one go (small files)."""
    frame = pd.read_csv(path, dtype={"price": "str"})
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce")
    frame = frame[frame["price"].notna() & (frame["flag"] == "x")]
    frame = frame.assign(notional=frame["price"] * frame["size"])
    return frame.groupby("ticker").agg(rows=("size", "count"), volume=("size", "sum"),
                                       notional=("notional", "sum")).sort_index()


def parsed_rows(path) -> pd.DataFrame:
    """parse's output for the whole CSV, row for row, as pandas computes it."""
    frame = pd.read_csv(path, dtype={"price": "str"})
    price = pd.to_numeric(frame["price"], errors="coerce")
    keep = price.notna() & (frame["flag"] == "x")
    return frame.assign(price=price)[keep][["ticker", "price", "size"]].reset_index(drop=True)
