"""Rollbacks counted in this process, for /metrics (web/metrics.py registers the collector).

    rollback_operations_total{pipeline, outcome}   (spec 002's name, so without the
        dataflow_ prefix of the other metrics): tasks undone, by their
        outcome, rolled_back or rollback_failed; counted by the orchestrator when a run
        ends (run/atomic.py), whether a worker undid a failure or an atomic run its
        completed tasks
"""
from __future__ import annotations

import threading

from prometheus_client.core import CounterMetricFamily

_counts: dict[tuple[str, str], int] = {}
_lock = threading.Lock()


def count_rollback(pipeline: str, outcome: str, n: int = 1) -> None:
    with _lock:
        _counts[(pipeline, outcome)] = _counts.get((pipeline, outcome), 0) + n


def rollback_counts() -> dict[tuple[str, str], int]:
    with _lock:
        return dict(_counts)


class RollbackCollector:
    """Reads the counts at each scrape."""

    def describe(self):
        return []

    def collect(self):
        family = CounterMetricFamily("rollback_operations", "Tasks rolled back "
                                     "(undone after a failure, or by a failed atomic run), "
                                     "by pipeline and outcome", labels=["pipeline", "outcome"])
        for (pipeline, outcome), count in sorted(rollback_counts().items()):
            family.add_metric([pipeline, outcome], count)
        yield family
