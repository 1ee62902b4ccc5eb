"""Checkpoints: every completed task's output, kept so a resumed run need not redo it.

Written by the worker that produced the output, before it reports success. Files
under `.dataflow/checkpoints/` when the store is on this machine, GridFS when it
is remote (workers elsewhere could not read local files); the task record holds
the reference.
"""
from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
import gridfs
from bson import ObjectId

from dataflow.errors import CheckpointUnreadable

if TYPE_CHECKING:
    from dataflow.model import RunEnv
    from dataflow.store.connection import StoreAddress


def _dumps(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cloudpickle.dumps(value)


def save_checkpoint(env: RunEnv, task_id: str, output: Any) -> dict | None:
    """Store `output` of one task; returns the reference for its task record."""
    if env.checkpoints == "off":
        return None
    data = _dumps(output)
    if env.checkpoints == "gridfs":
        bucket = gridfs.GridFS(env.store.system_db(), collection="checkpoints")
        file_id = bucket.put(data, filename=f"{env.run_id}/{task_id}", run_id=env.run_id)
        return {"kind": "gridfs", "id": str(file_id), "bytes": len(data)}
    path = _file_path(env, task_id)
    run_folder(path.parent)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return {"kind": "file", "path": str(path), "bytes": len(data)}


@functools.lru_cache(maxsize=64)    # resolved once per project a process serves
def checkpoint_folder(project_dir: str | Path) -> Path:
    """The project's own checkpoint folder: the only one checkpoints are read from."""
    return Path(project_dir).resolve() / ".dataflow" / "checkpoints"


_made: set[Path] = set()


def run_folder(folder: Path) -> Path:
    """`folder` made (once per process: every task of a run writes into it)."""
    if folder not in _made or not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        _made.add(folder)
    return folder


def _file_path(env: RunEnv, task_id: str) -> Path:
    folder = checkpoint_folder(env.project_dir)
    # lexical: the folder is resolved already, and ids cannot hold a symlink of their own
    path = Path(os.path.normpath(folder / env.run_id / f"{task_id}.pkl"))
    if folder not in path.parents:      # ids follow NAME_PATTERN; this is the last guard
        raise CheckpointUnreadable(f"checkpoint of task {task_id!r} would be {path}, outside "
                                   f"{folder}; rename the plugin or hook")
    return path


def outside_folder(ref: dict | None, project_dir: str | Path) -> str | None:
    """The path of a file checkpoint outside the project's checkpoint folder, else None."""
    if not ref or ref.get("kind") != "file":
        return None
    path = Path(str(ref.get("path", ""))).resolve()
    return None if checkpoint_folder(project_dir) in path.parents else str(path)


def existing_checkpoint(env: RunEnv, task_id: str) -> dict | None:
    """This run's checkpoint of a task, if it already completed once.

    Dask recomputes a finished task whose output died with its worker; the
    checkpoint lets it hand back the same output instead of running the plugin again.
    """
    if env.checkpoints == "files":
        path = _file_path(env, task_id)
        return {"kind": "file", "path": str(path)} if path.exists() else None
    if env.checkpoints == "gridfs":
        found = env.store.system_db()["checkpoints.files"].find_one(
            {"filename": f"{env.run_id}/{task_id}"}, {"_id": 1})
        return {"kind": "gridfs", "id": str(found["_id"])} if found else None
    return None


def load_checkpoint(store: StoreAddress, ref: dict, project_dir: str | Path | None = None) -> Any:
    """The output a checkpoint reference points at (FileNotFoundError when it is gone,
    CheckpointUnreadable when it is corrupt or, given `project_dir`, a file outside its
    checkpoint folder)."""
    if project_dir is not None and outside_folder(ref, project_dir):
        raise CheckpointUnreadable(f"checkpoint {ref['path']} is outside the project's "
                                   f"checkpoint folder {checkpoint_folder(project_dir)}; "
                                   "it was not read")
    if ref["kind"] == "gridfs":
        bucket = gridfs.GridFS(store.system_db(), collection="checkpoints")
        try:
            data = bucket.get(ObjectId(ref["id"])).read()
        except gridfs.errors.NoFile:
            raise FileNotFoundError(f"checkpoint {ref['id']} is no longer in GridFS") from None
    else:
        data = Path(ref["path"]).read_bytes()
    try:
        return pickle.loads(data)
    except Exception as error:      # truncated or overwritten: unusable, not a task failure
        name = ref.get("path") or f"GridFS checkpoint {ref.get('id')}"
        raise CheckpointUnreadable(f"checkpoint {name} is corrupt ({type(error).__name__}: "
                                   f"{error}); it is treated as missing") from None
