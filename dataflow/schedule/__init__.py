"""The clock-driven core of dataflow's built-in cron scheduler: pure decisions, no
store, no Dask, no engine.

    cron       when a cron fires in a time zone (DST rules), as UTC instants
    policy     SchedulePolicy: every scheduling key, its default, its validation
    catchup    due_fires: which fire times run now, which are dropped as missed
    overlap    overlap_action: start, skip, queue or cancel the running ones
    clock      Clock, SystemClock, FakeClock, and the bounded sleep of the loop
    describe   describe_schedule and parse_horizon, for the CLI and the API

The loop around that core (imported from their modules, not here, so importing the
core stays free of the store and the engine):

    loop       SchedulerLoop: tick, lease, sleep, start/stop, status, on_event
    lease      one loop's side of the lease, and its start/heartbeat/stop record
    roster     the scheduled pipelines, their policies and where each stands
    firing     one tick's fire times: recorded (claimed), then started
    active     the active runs of each pipeline, for the overlap rules
    overview   `dataflow schedule` / `/api/schedules`, pause and resume
    metrics    the loop's Prometheus metrics
"""
from dataflow.schedule.catchup import FireDecision, due_fires
from dataflow.schedule.clock import (Clock, FakeClock, SystemClock, bounded_sleep_seconds,
                                     sleep_until_next)
from dataflow.schedule.cron import cron_error, iter_fire_times, next_fire_times
from dataflow.schedule.describe import describe_schedule, parse_horizon
from dataflow.schedule.overlap import (OverlapAction, OverlapDecision, count_active_runs,
                                       overlap_action)
from dataflow.schedule.policy import POLICY_KEYS, Catchup, Overlap, SchedulePolicy

__all__ = ["POLICY_KEYS", "Catchup", "Clock", "FakeClock", "FireDecision", "Overlap",
           "OverlapAction", "OverlapDecision", "SchedulePolicy", "SystemClock",
           "bounded_sleep_seconds", "count_active_runs", "cron_error", "describe_schedule",
           "due_fires", "iter_fire_times", "next_fire_times", "overlap_action",
           "parse_horizon", "sleep_until_next"]
