"""Retention, the pure part: the policy that applies to a pipeline, and which runs lose
what. No I/O here; dataflow.store.retention asks the store and deletes.

    retention:                    # config/system.yaml; per pipeline in pipelines.yaml
      keep_checkpoints_runs: 20   # checkpoints of the newest N runs (and of runs still
                                  # resumable, and of runs a kept run restored from)
      history_days: 90            # runs, their tasks, logs, checkpoints and log files
      log_days: 30                # log records and log files
      automatic: true             # applied after runs (else `dataflow prune` only) ...
      every_minutes: 10           # ... at most this often per pipeline (0: after every run)

0 or null keeps forever. A running run is never touched.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dataflow.config.settings import RETENTION_DEFAULTS
from dataflow.statuses import RESUMABLE_RUN_STATUSES, RunStatus


@dataclass(frozen=True)
class RetentionPolicy:
    """None: keep forever."""

    keep_checkpoints_runs: int | None = RETENTION_DEFAULTS["keep_checkpoints_runs"]
    history_days: float | None = RETENTION_DEFAULTS["history_days"]
    log_days: float | None = RETENTION_DEFAULTS["log_days"]
    automatic: bool = True
    every_minutes: float | None = RETENTION_DEFAULTS["every_minutes"]

    @classmethod
    def layered(cls, *sections: Mapping | None) -> RetentionPolicy:
        """Defaults, then each `retention:` section key by key (system.yaml, then the
        pipeline's); an explicit null or 0 means keep forever."""
        values: dict[str, Any] = {**RETENTION_DEFAULTS, "automatic": True}
        for section in sections:
            values.update(section or {})
        return cls(keep_checkpoints_runs=values["keep_checkpoints_runs"] or None,
                   history_days=values["history_days"] or None,
                   log_days=values["log_days"] or None, automatic=bool(values["automatic"]),
                   every_minutes=values["every_minutes"] or None)

    def cutoff(self, days: float | None, now: datetime) -> datetime | None:
        return None if not days else now - timedelta(days=days)

    def describe(self) -> dict:
        return {"keep_checkpoints_runs": self.keep_checkpoints_runs,
                "history_days": self.history_days, "log_days": self.log_days,
                "automatic": self.automatic, "every_minutes": self.every_minutes}


def still_resumable(run: Mapping) -> bool:
    """A run `dataflow resume` would take and nobody has resumed yet."""
    return run.get("status") in RESUMABLE_RUN_STATUSES and not run.get("resumed_by")


def checkpoint_victims(newest: Iterable[Mapping], candidates: Iterable[Mapping]) -> list[str]:
    """Ids of the `candidates` (runs whose checkpoints are still there) that lose their
    checkpoints, given the `newest` N runs of their pipeline (kept).

    Kept besides the newest: running runs, runs still resumable, and every run a kept run
    was resumed from (its restored tasks point at that run's checkpoints), transitively.
    """
    by_id = {run["_id"]: run for run in candidates}
    kept = {run["_id"] for run in newest}
    kept |= {run_id for run_id, run in by_id.items()
             if run.get("status") == RunStatus.RUNNING or still_resumable(run)}
    sources = {run.get("resumed_from") for run in newest}
    while True:
        sources |= {by_id[run_id].get("resumed_from") for run_id in kept if run_id in by_id}
        added = {source for source in sources if source in by_id} - kept
        if not added:
            break
        kept |= added
    return [run_id for run_id in by_id if run_id not in kept]


@dataclass
class PruneReport:
    """What a prune freed (or, with dry_run, would free)."""

    dry_run: bool = False
    runs_deleted: int = 0               # whole runs older than history_days
    task_documents: int = 0
    log_documents: int = 0
    runs_checkpoints_pruned: int = 0    # runs whose checkpoints went (beyond the newest N)
    checkpoint_files: int = 0
    gridfs_files: int = 0
    gridfs_chunks: int = 0
    checkpoint_bytes: int = 0
    log_files: int = 0
    log_file_bytes: int = 0
    pipelines: dict = field(default_factory=dict)     # pipeline → its policy as applied

    @property
    def bytes_freed(self) -> int:
        return self.checkpoint_bytes + self.log_file_bytes

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict:
        data = {key: value for key, value in self.__dict__.items()}
        return {**data, "bytes_freed": self.bytes_freed}
