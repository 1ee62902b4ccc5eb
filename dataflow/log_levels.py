"""The levels of plugin log records, lowest first (spec 000's UnifiedLogger), by number.

Kept apart from the logger itself so readers of logs (the CLI, the pages) need not import
Dask to know them.
"""
from __future__ import annotations

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "FATAL": 50}


def levels_at_least(level: str | None) -> list[str] | None:
    """The level names at `level` or above (None: every level)."""
    if not level:
        return None
    return [name for name, value in LEVELS.items() if value >= LEVELS[level.upper()]]
