"""Streamed hooks (STREAM = True): outputs bigger than memory, processed chunk by chunk.

A plugin whose `run` returns a dask DataFrame or a generator of pandas DataFrames
produces a stream. The streamed plugins of the hooks that follow it (one plugin per
hook, each with `STREAM = True` and `run_chunk(context, config, chunk)`) form its chain
(run/stream_chains.py): the producing task drives the stream through all of them, chunk
by chunk (worker/stream_chain.py), each member writing its results as Parquet parts.
When the chain's own tasks run after it, they report what the driver did for them and
hand on their parts as a lazy dask DataFrame. A STREAM task outside such a chain drives
itself from a dask DataFrame (or generator) among its inputs.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from dataflow.model import Outcome, PlannedTask, RunEnv
from dataflow.plugins.loader import import_plugin

# worker/stream_drive.py, imported on first use: every task imports this module, and
# dask.dataframe + pandas + pyarrow would add ~1 s to each worker's first task
DRIVER = "dataflow.worker.stream_drive"


def is_dask_frame(value: Any) -> bool:
    return type(value).__module__.startswith("dask") and hasattr(value, "npartitions")


def is_streamable(value: Any) -> bool:
    """A dask DataFrame, or a generator/iterator of pandas DataFrames."""
    if is_dask_frame(value):
        return True
    return isinstance(value, Iterator) and not hasattr(value, "columns")


def is_stream_plugin(task: PlannedTask) -> bool:
    try:
        return bool(getattr(import_plugin(task.ref), "STREAM", False))
    except Exception:       # it fails to import: its own run says so, with its retries
        return False


def stream_output(env: RunEnv, task: PlannedTask, outcome: Outcome, inputs: dict,
                  chain: tuple[PlannedTask, ...]) -> Outcome:
    """A completed task whose output is a stream: driven through its chain. A generator
    with no chain is stored as parts (a dask DataFrame passes on as it is: lazy)."""
    if not outcome.ok or not is_streamable(outcome.output):
        return outcome
    return importlib.import_module(DRIVER).stream_output(env, task, outcome, inputs, chain)


def streamed_task(env: RunEnv, task: PlannedTask, upstream: tuple[Outcome, ...], inputs: dict,
                  chain: tuple[PlannedTask, ...]) -> Outcome | None:
    """The outcome of a STREAM task (None for any other task): reported by its chain's
    driver, or driven here from the stream among its inputs."""
    if not is_stream_plugin(task):
        return None
    return importlib.import_module(DRIVER).streamed_task(env, task, upstream, inputs, chain)
