"""Where a CLI process's time goes, printed to stderr when DATAFLOW_PHASES is set
(benchmarks/cli_run.py reads it): seconds from the process's start to each phase."""
from __future__ import annotations

import os
import sys
import time

import psutil

ENABLED = bool(os.environ.get("DATAFLOW_PHASES"))
_marks: list[tuple[str, float]] = []


def _since_start() -> float:
    """Seconds since this process started: from its start tick on Linux (precise to the
    clock tick); elsewhere from psutil's start time (whole-second boot time: rough)."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError, IndexError):
        return time.time() - psutil.Process().create_time()


def mark(name: str) -> None:
    """Note that the process reached `name` (no cost unless DATAFLOW_PHASES is set)."""
    if ENABLED:
        _marks.append((name, _since_start()))


def report() -> None:
    if ENABLED:
        for name, seconds in _marks:
            print(f"phase {name} {seconds:.4f}", file=sys.stderr)
