"""Streamed hooks (STREAM = True) on a real cluster started from system.yaml with a low
worker memory limit (room for a couple of chunks, not for the data): a generated tick CSV
over three times that limit, read as a dask DataFrame, parsed and aggregated chunk by
chunk, the totals written to Parquet. The run completes with the
same totals as pandas computes, no worker is restarted, each task's rows are stored
and shown, and the first output chunk is on disk before the last input chunk is read."""
from __future__ import annotations

import os
import threading

import pandas as pd
import psutil
import pytest
from conftest import RUN_TIMEOUT, plugin_source
from stream_plugins import (repeated_totals, stream_project, write_repeated_ticks,
                           write_ticks)

from dataflow.project import Project
from dataflow.run.engine import Engine
from dataflow.store.history import get_run
from dataflow.worker.stream_parts import parts, stream_folder

ROWS = 2_500_000          # ~55 MB of CSV: the smaller tests
# A worker is ~210-250 MB with pandas, pyarrow and dask imported: Dask pauses it at 80% of
# the limit, so the limit leaves room for about two chunks, not for the data.
LIMIT = 400 * 10**6
SYSTEM = f"cluster:\n  n_workers: 2\n  max_workers: 2\n  memory_limit: {LIMIT}\n"
BLOCK, TIMES = 1_000_000, 64        # 64 M rows: a ~1.25 GB CSV, > 3x the worker limit


@pytest.fixture(scope="module")
def ticks(tmp_path_factory):
    path = tmp_path_factory.mktemp("ticks") / "ticks.csv"
    write_ticks(path, ROWS)
    return path


@pytest.fixture(scope="module")
def big_ticks(tmp_path_factory):
    """(the CSV, its block): 1 M generated rows repeated TIMES times."""
    folder = tmp_path_factory.mktemp("big")
    write_repeated_ticks(folder / "ticks.csv", folder / "block.csv", BLOCK * TIMES, BLOCK)
    return folder / "ticks.csv", folder / "block.csv"


class PeakRss:
    """Samples the RSS of the cluster's worker processes on a thread until stopped."""

    def __init__(self, client):
        self.processes = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.peaks = {p.pid: 0 for p in self.processes}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.wait(0.05):
            for process in self.processes:
                try:
                    self.peaks[process.pid] = max(self.peaks[process.pid],
                                                  process.memory_info().rss)
                except psutil.NoSuchProcess:
                    self.peaks[process.pid] = -1        # a worker died

    def finish(self) -> dict:
        self.stop.set()
        self.thread.join(5)
        return self.peaks


def test_a_stream_bigger_than_a_worker_runs_with_bounded_memory(make_project, store_env,
                                                                  big_ticks, tmp_path):
    ticks, block = big_ticks
    rows = BLOCK * TIMES
    assert ticks.stat().st_size > 3 * LIMIT          # several times the worker's limit
    out = tmp_path / "totals.parquet"
    # prices read as floats ("n/a" → NaN, counted failed by parse): half the CPU of strings
    config = (f"plugin_config:\n  read: {{path: {str(ticks)!r}, blocksize: 6MB, "
              f"price: float64}}\n"
              f"  write: {{out: {str(out)!r}}}\n")
    project = stream_project(make_project, SYSTEM, config, rows_per_cp=2_000_000)
    # no CPU governor: its pauses would only slow the run down on a loaded machine
    engine = Engine(Project(project), govern=False)
    try:
        client = engine.client
        workers = set(client.scheduler_info()["workers"])
        seen: list[dict] = []
        sampler = PeakRss(client)
        result = engine.run("ticks", timeout=RUN_TIMEOUT * 4, listeners=[seen.append])
        peaks = sampler.finish()
        assert result.status == "completed", result
        assert set(client.scheduler_info()["workers"]) == workers   # none restarted
        engine.project.recorder.flush()
        stored = {t["plugin"]: t for t in get_run(engine.project.db, result.run_id)["tasks"]}
    finally:
        engine.close()
        engine.project.close()
    totals = pd.read_parquet(out).sort_index()
    pd.testing.assert_frame_equal(totals, repeated_totals(block, TIMES), check_dtype=False)
    parse = stored["parse"]["stream"]
    assert parse["rows_done"] == parse["rows_total"] == rows
    assert parse["rows_failed"] == rows // 1000
    assert 0 < parse["rows_skipped"] < rows
    assert parse["chunks_done"] == parse["chunks_total"] >= 60
    assert any(e.get("rows_done") and e["rows_done"] < rows for e in seen)   # live, mid-run
    # no worker died or was restarted for memory, and none came near its limit
    assert 0 < min(peaks.values()) and max(peaks.values()) < LIMIT, peaks
    # early results: aggregate's first part was written before parse got the last chunk
    first = parts(stream_folder(project, result.run_id, "aggregate.aggregate"))[0]
    last = parts(stream_folder(project, result.run_id, "parse.parse"))[-1]
    assert first.stat().st_mtime < last.stat().st_mtime


def test_show_says_how_far_each_streamed_task_got(make_project, engine_for, ticks, tmp_path,
                                                  cli):
    out = tmp_path / "totals.parquet"
    config = (f"plugin_config:\n  read: {{path: {str(ticks)!r}, blocksize: 16MB}}\n"
              f"  write: {{out: {str(out)!r}}}\n")
    project = stream_project(make_project, "", config)
    result = engine_for(project).run("ticks", timeout=RUN_TIMEOUT * 2)
    assert result.status == "completed", result
    ran = cli("run", "ticks", project=project, env={"COLUMNS": "250"}, timeout=RUN_TIMEOUT * 2)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"rows {ROWS:,} / {ROWS:,} (chunk 3/3)" in ran.stdout, ran.stdout     # dataflow run
    shown = cli("show", result.run_id, project=project, env={"COLUMNS": "250"})
    assert shown.returncode == 0, shown.stderr
    assert f"rows {ROWS:,} / {ROWS:,} (chunk 3/3), {ROWS // 1000:,} failed" in shown.stdout


GENERATE = """
import pandas as pd
def frames():
    for k in range(5):
        yield pd.DataFrame({"k": [k] * 1000, "x": range(1000)})
return frames()
"""
DOUBLE = """
def run_chunk(context, config, chunk):
    if chunk["k"].iloc[0] == 2:
        context["stream"].skipped(len(chunk))
        return None
    return chunk.assign(x=chunk["x"] * 2)
"""
TOTAL = """
frame = context["inputs"]["double"].compute()
return {"rows": len(frame), "x": int(frame["x"].sum()), "ks": sorted(set(frame["k"]))}
"""


def test_a_generator_streams_through_a_chain_and_a_lone_stream_plugin_says_why(
        make_project, engine_for):
    project = make_project(
        "pipelines:\n  gen:\n    hooks: [make, double, total]\n"
        "  lone:\n    hooks: [double]\n", {
            "make": plugin_source("make", "make", body=GENERATE, pipelines="gen"),
            "double": plugin_source("double", "double", body="return None", code=DOUBLE,
                                    STREAM=True),
            "total": plugin_source("total", "total", body=TOTAL, pipelines="gen")})
    engine = engine_for(project)
    result = engine.run("gen", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result
    engine.project.recorder.flush()
    tasks = {t["plugin"]: t for t in get_run(engine.project.db, result.run_id)["tasks"]}
    assert tasks["double"]["stream"] == {
        "rows_done": 5000, "rows_total": 5000, "rows_failed": 0, "rows_skipped": 1000,
        "chunks_done": 5, "chunks_total": 5}
    assert result.output("total", timeout=RUN_TIMEOUT) == {
        "rows": 4000, "x": 4 * 999_000, "ks": [0, 1, 3, 4]}
    lone = engine.run("lone", timeout=RUN_TIMEOUT)
    engine.project.recorder.flush()
    error = get_run(engine.project.db, lone.run_id)["tasks"][0]["error"]
    assert "declares STREAM = True but none of its inputs" in error
