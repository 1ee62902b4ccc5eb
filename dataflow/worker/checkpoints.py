"""Checkpoints: every completed task's output, kept so a resumed run need not redo it.

Written by the worker that produced the output, before it reports success. Files
under `.dataflow/checkpoints/` when the store is on this machine, GridFS when it
is remote (workers elsewhere could not read local files); the task record holds
the reference.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
import gridfs
from bson import ObjectId

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
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return {"kind": "file", "path": str(path), "bytes": len(data)}


def _file_path(env: RunEnv, task_id: str) -> Path:
    return Path(env.project_dir) / ".dataflow" / "checkpoints" / env.run_id / f"{task_id}.pkl"


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


def load_checkpoint(store: StoreAddress, ref: dict) -> Any:
    """The output a checkpoint reference points at (FileNotFoundError when it is gone)."""
    if ref["kind"] == "gridfs":
        bucket = gridfs.GridFS(store.system_db(), collection="checkpoints")
        try:
            data = bucket.get(ObjectId(ref["id"])).read()
        except gridfs.errors.NoFile:
            raise FileNotFoundError(f"checkpoint {ref['id']} is no longer in GridFS") from None
    else:
        data = Path(ref["path"]).read_bytes()
    return pickle.loads(data)
