"""Resuming a streamed run from its last chunk checkpoint: after a plugin failed at a chunk,
and after `dataflow run` was killed (SIGKILL) mid-stream. The resumed run processes only
the chunks after the checkpoint, reuses the parts written before it, and its output is the
uninterrupted run's, row for row."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pymongo
import pytest
from conftest import RUN_TIMEOUT, plugin_source, wait_until
from stream_plugins import expected_totals, parsed_rows, stream_project, write_ticks

from dataflow.store.history import get_run
from dataflow.worker.stream_parts import parts, stream_folder

ROWS = 600_000            # ~11 MB: 6 chunks of 2 MB, a checkpoint after each


@pytest.fixture(scope="module")
def ticks(tmp_path_factory):
    path = tmp_path_factory.mktemp("ticks") / "ticks.csv"
    write_ticks(path, ROWS, seed=11)
    return path


def _project(make_project, ticks, tmp_path, **parse):
    config = {"path": str(ticks), "blocksize": "2MB"}
    text = (f"plugin_config:\n  read: {json.dumps(config)}\n"
            f"  parse: {json.dumps({'log': str(tmp_path / 'chunks.log'), **parse})}\n"
            f"  write: {json.dumps({'out': str(tmp_path / 'totals.parquet')})}\n")
    return stream_project(make_project, "", text, rows_per_cp=1)


def _chunks_seen(tmp_path, run_id: str) -> list[int]:
    """The chunks parse was given in that run (chunks run in parallel: sorted)."""
    lines = (tmp_path / "chunks.log").read_text().split("\n")
    return sorted(int(line.split()[1]) for line in lines if line.startswith(run_id + " "))


def _same_as_uninterrupted(project, run_id: str, ticks, tmp_path) -> None:
    totals = pd.read_parquet(tmp_path / "totals.parquet").sort_index()
    pd.testing.assert_frame_equal(totals, expected_totals(ticks), check_dtype=False)
    written = pd.concat([pd.read_parquet(p) for p in
                         parts(stream_folder(project, run_id, "parse.parse"))],
                        ignore_index=True)
    pd.testing.assert_frame_equal(written, parsed_rows(ticks), check_dtype=False)


def test_a_stream_that_failed_at_a_chunk_resumes_from_its_checkpoint(make_project, engine_for,
                                                                     ticks, tmp_path):
    project = _project(make_project, ticks, tmp_path, break_at=4,
                       fixed=str(tmp_path / "fixed"))
    engine = engine_for(project)
    first = engine.run("ticks", timeout=RUN_TIMEOUT)
    assert first.status != "completed"
    engine.project.recorder.flush()
    tasks = {t["plugin"]: t for t in get_run(engine.project.db, first.run_id)["tasks"]}
    assert tasks["parse"]["status"] == "failed"
    assert "failed on chunk 4" in tasks["parse"]["error"]
    assert "stream stopped" in tasks["read"]["error"]
    (tmp_path / "fixed").touch()
    resumed = engine.resume(first.run_id, timeout=RUN_TIMEOUT)
    assert resumed.status == "completed", resumed
    engine.project.recorder.flush()
    done = {t["plugin"]: t for t in get_run(engine.project.db, resumed.run_id)["tasks"]}
    assert done["parse"]["stream"]["rows_done"] == ROWS
    chunks = done["parse"]["stream"]["chunks_total"]
    assert chunks >= 5
    assert _chunks_seen(tmp_path, first.run_id)[:5] == [0, 1, 2, 3, 4]   # + any in flight
    assert _chunks_seen(tmp_path, resumed.run_id) == list(range(4, chunks))
    _same_as_uninterrupted(project, resumed.run_id, ticks, tmp_path)


def test_a_run_killed_mid_stream_resumes_from_its_last_checkpoint(make_project, store_env,
                                                                  ticks, tmp_path, cli):
    project = _project(make_project, ticks, tmp_path, slow=1.0)
    env = {**os.environ, **store_env, "DATAFLOW_PROJECT": str(project)}
    db = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])[store_env["DATAFLOW_MONGO_DB"]]
    with open(tmp_path / "run.out", "w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "dataflow", "run", "ticks"],
                                   env=env, stdout=sink, stderr=sink)
    try:
        wait_until(lambda: (db["stream_checkpoints"].find_one() or {}).get("next_chunk", 0)
                   >= 3, 120, message="three chunks checkpointed")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        run_id = db["stream_checkpoints"].find_one()["run_id"]
        wait_until(lambda: "interrupted" in cli("runs", project=project).stdout, 120,
                   message="the run found interrupted")
        resumed = cli("resume", run_id[:12], project=project, timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        new_id = db["runs"].find_one({"resumed_from": run_id})["_id"]
        seen_before = _chunks_seen(tmp_path, run_id)
        seen_after = _chunks_seen(tmp_path, new_id)
        chunks = db["stream_checkpoints"].find_one({"run_id": new_id})["next_chunk"]
        assert seen_after == list(range(seen_after[0], chunks))
        assert 3 <= seen_after[0] <= max(seen_before) + 1     # at most the chunks in flight
        _same_as_uninterrupted(project, new_id, ticks, tmp_path)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        db.client.close()


def test_a_cancelled_stream_stops_at_a_chunk_and_resumes_after_its_checkpoint(
        make_project, engine_for, ticks, tmp_path):
    project = _project(make_project, ticks, tmp_path, slow=0.5)
    engine = engine_for(project)
    handle = engine.start("ticks")
    db = engine.project.db
    wait_until(lambda: (db["stream_checkpoints"].find_one({"run_id": handle.run_id}) or {})
               .get("next_chunk", 0) >= 2, RUN_TIMEOUT, message="two chunks checkpointed")
    engine.cancel(handle.run_id)
    cancelled = engine.wait(handle, timeout=RUN_TIMEOUT)
    assert cancelled.status == "cancelled", cancelled
    engine.project.recorder.flush()
    tasks = {t["plugin"]: t["status"] for t in get_run(db, handle.run_id)["tasks"]}
    assert tasks["read"] == "cancelled"
    stopped_at = db["stream_checkpoints"].find_one({"run_id": handle.run_id})["next_chunk"]
    resumed = engine.resume(handle.run_id, timeout=RUN_TIMEOUT)
    assert resumed.status == "completed", resumed
    assert _chunks_seen(tmp_path, resumed.run_id)[0] == stopped_at
    _same_as_uninterrupted(project, resumed.run_id, ticks, tmp_path)


LOAD = """
import dask.dataframe as dd
import pandas as pd
meta = pd.DataFrame({"part": pd.Series(dtype="int64"), "x": pd.Series(dtype="int64")})
return dd.from_map(load, range(8), args=(config["log"],), meta=meta)   # meta: none loaded
"""
LOAD_CODE = """
import pandas as pd
def load(index, log):
    with open(log, "a") as handle:
        handle.write("%d\\n" % index)
    return pd.DataFrame({"part": [index] * 1000, "x": range(1000)})
"""
STEP_CODE = """
import os
def run_chunk(context, config, chunk):
    if context["stream"].chunk == 5 and not os.path.exists(config["fixed"]):
        raise RuntimeError("broke on purpose at chunk 5")
    return chunk.assign(x=chunk["x"] + 1)
"""
SUM = """
frame = context["inputs"]["resume_parts_step"].compute()
return {"rows": len(frame), "parts": sorted(set(frame["part"]))}
"""


def test_a_resumed_stream_reads_no_partition_before_its_checkpoint(make_project, engine_for,
                                                                   tmp_path):
    """A dask DataFrame's partitions before the checkpoint are skipped by index: never
    loaded (not read and dropped), whatever their source. (Plugin names of their own: its
    `load` function is pickled by reference to its module, and the session's cluster has
    met other tests' plugins named `load`.)"""
    log, fixed = tmp_path / "loaded.log", tmp_path / "fixed"
    project = make_project(
        "pipelines:\n  parts:\n    hooks: [load, step, total]\n"
        f"plugin_config:\n  resume_parts_load: {{log: {str(log)!r}}}\n"
        f"  resume_parts_step: {{fixed: {str(fixed)!r}}}\n",
        {"resume_parts_load": plugin_source("resume_parts_load", "load", body=LOAD,
                                            code=LOAD_CODE),
         "resume_parts_step": plugin_source("resume_parts_step", "step", body="return None",
                                            code=STEP_CODE, STREAM=True, CHECKPOINT_ROWS=1),
         "resume_parts_total": plugin_source("resume_parts_total", "total", body=SUM)})
    engine = engine_for(project)
    first = engine.run("parts", timeout=RUN_TIMEOUT)
    assert first.status != "completed"
    engine.project.recorder.flush()
    start = engine.project.db["stream_checkpoints"].find_one({"run_id": first.run_id})
    assert start["next_chunk"] == 5
    fixed.touch()
    log.write_text("")       # what the first run loaded (and any straggler of it) forgotten
    resumed = engine.resume(first.run_id, timeout=RUN_TIMEOUT)
    assert resumed.status == "completed", resumed
    loaded = sorted({int(line) for line in log.read_text().split()})
    assert loaded == [5, 6, 7]          # partitions 0-4 were not loaded again
    assert resumed.output("resume_parts_total", timeout=RUN_TIMEOUT) == {"rows": 8000,
                                                            "parts": list(range(8))}
