"""Where a CLI process's time goes, printed to stderr when DATAFLOW_PHASES is set
(benchmarks/cli_run.py reads it): seconds from the process's start to each phase."""
from __future__ import annotations

import os
import sys
import time

import psutil

ENABLED = bool(os.environ.get("DATAFLOW_PHASES"))
_STARTED = psutil.Process().create_time() if ENABLED else 0.0
_marks: list[tuple[str, float]] = []


def mark(name: str) -> None:
    """Note that the process reached `name` (no cost unless DATAFLOW_PHASES is set)."""
    if ENABLED:
        _marks.append((name, time.time() - _STARTED))


def report() -> None:
    if ENABLED:
        for name, seconds in _marks:
            print(f"phase {name} {seconds:.4f}", file=sys.stderr)
