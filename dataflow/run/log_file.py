"""A run's log records as a text file under the project's `logs/` folder (one file a run)."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TextIO


def format_record(record: dict) -> str:
    fields = record.get("fields") or {}
    extra = f" {json.dumps(fields, default=str)}" if fields else ""
    return (f"{record['time']} {record['level']:<7} {record.get('hook')}/{record.get('plugin')}: "
            f"{record['message']}{extra}")


class LogFile:
    """Appends formatted records to `<directory>/<run_id>.log`, opened on first write."""

    def __init__(self, directory: Path, run_id: str):
        self.path = Path(directory) / f"{run_id}.log"
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self.failed: OSError | None = None     # the first write error; no more tries then

    def write(self, record: dict) -> None:
        with self._lock:
            if self.failed is not None:
                return
            try:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = open(self.path, "a", encoding="utf-8")
                self._file.write(format_record(record) + "\n")
                self._file.flush()
            except OSError as error:    # unwritable logs/: say so once, keep the run going
                self.failed = error
                print(f"warning: cannot write the run's log file {self.path}: "
                      f"{error.strerror or error}; the log is still kept in the store "
                      "(`dataflow logs RUN`). Fix: make the folder writable, or set "
                      "logging.directory in config/system.yaml", file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
