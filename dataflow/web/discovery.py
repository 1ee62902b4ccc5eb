"""How other dataflow processes find the server running for a project.

`dataflow serve` writes `.dataflow/server.json` (pid, process start time, address,
port, whether a token is required) and removes it when it stops; `dataflow run`
reads it to hand its run to the server. A file left by a dead server is ignored.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from dataflow.store.connection import STATE_DIR

SERVER_FILE = "web.json"        # not server.json: that is the embedded store's


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    address: str
    port: int
    url: str
    requires_token: bool


def _path(project_dir: Path) -> Path:
    return Path(project_dir) / STATE_DIR / SERVER_FILE


def write_server_info(project_dir: Path, info: ServerInfo) -> None:
    path = _path(project_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**info.__dict__, "pid_started": psutil.Process(info.pid).create_time()}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)


def remove_server_info(project_dir: Path) -> None:
    path = _path(project_dir)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if record.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _alive(record: dict) -> bool:
    try:
        process = psutil.Process(record["pid"])
        return abs(process.create_time() - record.get("pid_started", 0)) < 1.0
    except (psutil.Error, KeyError, TypeError):
        return False


def find_server(project_dir: Path) -> ServerInfo | None:
    """The live server of this project, or None (no file, or its process is gone)."""
    try:
        record = json.loads(_path(project_dir).read_text())
    except (OSError, ValueError):
        return None
    if not _alive(record):
        return None
    return ServerInfo(record["pid"], record["address"], record["port"], record["url"],
                      bool(record.get("requires_token")))
