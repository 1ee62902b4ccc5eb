"""Prometheus metrics of a scheduler loop, on a given CollectorRegistry:

    dataflow_schedule_fires_total{pipeline, outcome}      fire times decided
    dataflow_schedule_submit_lag_seconds                  due time → run submitted
    dataflow_schedule_start_lag_seconds                   run submitted → first task started
    dataflow_scheduler_last_tick_timestamp_seconds        the loop's last tick (unix time)
    dataflow_scheduler_lease_held{holder}                 1 while this loop holds the lease

    metrics = scheduler_metrics(registry, loop)     # updated from the loop's listeners

A fire is counted when the loop's listeners get its record as a "fire" event — as
FireBatch's records are, and the refused/waiting ones schedule/upstream.py settles
(`listener("fire", record)`): code that decides a fire elsewhere tells them the same way.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dataflow.store.schedules import FireOutcome

if TYPE_CHECKING:
    from dataflow.schedule.loop import SchedulerLoop

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def scheduler_metrics(registry: CollectorRegistry, loop: SchedulerLoop) -> dict:
    """Register the scheduler's metrics on `registry`, fed by `loop`; {name: metric}."""
    metrics: dict[str, Any] = {
        "fires": Counter("dataflow_schedule_fires", "Fire times decided by the scheduler, "
                         "by pipeline and outcome", ["pipeline", "outcome"], registry=registry),
        "submit_lag": Histogram("dataflow_schedule_submit_lag_seconds", "Seconds from a fire "
                                "time being due to its run being submitted",
                                buckets=LAG_BUCKETS, registry=registry),
        "start_lag": Histogram("dataflow_schedule_start_lag_seconds", "Seconds from a "
                               "scheduled run being submitted to its first task starting",
                               buckets=LAG_BUCKETS, registry=registry),
        "last_tick": Gauge("dataflow_scheduler_last_tick_timestamp_seconds",
                           "Unix time of the scheduler loop's last tick", registry=registry),
        "lease_held": Gauge("dataflow_scheduler_lease_held", "1 while this scheduler loop "
                            "holds the lease (fires), 0 while it stands by", ["holder"],
                            registry=registry),
    }

    def listener(kind: str, data: dict) -> None:
        if kind == "fire":
            metrics["fires"].labels(data["pipeline"], str(data["outcome"])).inc()
            if data["outcome"] == FireOutcome.STARTED and data.get("submitted"):
                lag = (data["submitted"] - data["due"]).total_seconds()
                metrics["submit_lag"].observe(max(0.0, lag))
        elif kind == "first_task":
            metrics["start_lag"].observe(data["seconds"])
        elif kind == "tick":
            metrics["last_tick"].set(data["time"].timestamp())
            metrics["lease_held"].labels(loop.holder).set(1 if data["holding"] else 0)
    loop.listeners.append(listener)
    return metrics
