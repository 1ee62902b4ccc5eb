"""Cancel flags, process-local: set on every worker by the orchestrator, read for free.

`context.cancelled()` is called often inside plugin loops, so it must not talk to
the scheduler: the orchestrator pushes flags to all workers (`client.run`) instead.
"""
from __future__ import annotations

import threading

_flags: set[tuple[str, str | None]] = set()
_lock = threading.Lock()


def mark_cancelled(run_id: str, plugin: str | None = None) -> None:
    with _lock:
        _flags.add((run_id, plugin))


def is_cancelled(run_id: str, plugin: str | None = None) -> bool:
    return (run_id, None) in _flags or (plugin is not None and (run_id, plugin) in _flags)


def clear(run_id: str) -> None:
    with _lock:
        for flag in [f for f in _flags if f[0] == run_id]:
            _flags.discard(flag)
