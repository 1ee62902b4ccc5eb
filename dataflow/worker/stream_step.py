"""One chunk through a streaming chain, wherever Dask runs it (the worker that holds the
chunk, usually): each member's `run_chunk` on what the member before it returned, each
non-empty result written as that member's Parquet part. Only row counts come back."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dataflow.model import PlannedTask, RunEnv
from dataflow.plugins.loader import import_plugin
from dataflow.worker.stream_context import RowTally, StreamContext
from dataflow.worker.stream_parts import write_part


@dataclass(frozen=True)
class Step:
    """What a worker needs to run one member of a chain (`own`: keep chunks as they are)."""

    task: PlannedTask
    folder: str
    own: bool
    inputs_of: tuple[str, ...] = ()       # plugins whose outputs its context lists as inputs


def _one(env: RunEnv, step: Step, index: int, chunk: Any, total: int | None) -> tuple[Any, dict]:
    tally = RowTally(chunk=index, chunks_total=total)
    if step.own:
        result = chunk
    else:
        context = StreamContext(env, step.task.hook, step.task.plugin,
                                dict.fromkeys(step.inputs_of), tally)
        try:
            result = import_plugin(step.task.ref).run_chunk(context, dict(step.task.config),
                                                            chunk)
        except Exception as error:
            return None, {"rows": 0, "failed": 0, "skipped": 0,
                          "error": f"failed on chunk {index}: {type(error).__name__}: {error}"}
    if result is not None and len(result):
        write_part(Path(step.folder), index, result)
    return result, {"rows": len(chunk), "failed": tally.failed_rows,
                    "skipped": tally.skipped_rows, "error": None}


def process_chunk(env: RunEnv, steps: tuple[Step, ...], index: int, chunk: Any,
                  total: int | None = None) -> list[dict | None]:
    """Chunk `index` through every step; per step its rows in, failed, skipped and error
    (None: not reached, the chunk was used up or a step before it failed)."""
    counts: list[dict | None] = []
    for step in steps:
        if chunk is None:
            counts.append(None)
            continue
        chunk, count = _one(env, step, index, chunk, total)
        counts.append(count)
        if count["error"]:
            chunk = None
    del chunk
    # Arrow's allocator keeps freed chunks for reuse; unreturned, they pile up as unmanaged
    # memory until Dask pauses the worker (the CSV's strings are Arrow strings)
    pa.default_memory_pool().release_unused()
    return counts
