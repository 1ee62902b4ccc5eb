"""The parts a streamed task writes: one Parquet file per chunk, written with pyarrow.

<project>/.dataflow/streams/<run id>/<task id>/part-000007.parquet. Each part is written
to a temporary name and renamed, so a part on disk is always whole; what reads them back
is `dd.read_parquet` (lazy), so a downstream task never holds the whole output at once.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dataflow.errors import CheckpointUnreadable

PART = "part-{:06d}.parquet"


def streams_root(project_dir: str | Path) -> Path:
    return Path(project_dir).resolve() / ".dataflow" / "streams"


def stream_folder(project_dir: str | Path, run_id: str, task_id: str) -> Path:
    """The folder of one streamed task's parts (inside the project's streams folder)."""
    root = streams_root(project_dir)
    folder = (root / run_id / task_id).resolve()
    if root not in folder.parents:
        raise CheckpointUnreadable(f"stream parts of task {task_id!r} would be {folder}, "
                                   f"outside {root}; rename the plugin or hook")
    return folder


def write_part(folder: Path, index: int, frame: pd.DataFrame) -> Path:
    """Write chunk `index` of a task's output; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PART.format(index)
    temporary = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary)
    os.replace(temporary, path)
    return path


def part_index(path: Path) -> int:
    return int(path.stem.split("-")[1])


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def drop_parts_from(folder: Path, start: int) -> None:
    """Remove parts of chunks ≥ start: written after the last checkpoint, written again."""
    for path in parts(folder):
        if part_index(path) >= start:
            path.unlink()


def reuse_parts(old: Path, new: Path, before: int) -> int:
    """Link (or copy) the parts of chunks < before from a resumed run's folder."""
    new.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in parts(old):
        if part_index(path) < before:
            target = new / path.name
            if not target.exists():
                try:
                    os.link(path, target)
                except OSError:
                    shutil.copy2(path, target)
            count += 1
    return count


def read_parts(folder: Path) -> Any:
    """The task's output: a lazy dask DataFrame over its parts (empty pandas if none)."""
    found = parts(folder)
    if not found:
        return pd.DataFrame()
    return dd.read_parquet([str(path) for path in found])
