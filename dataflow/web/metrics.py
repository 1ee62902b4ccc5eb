"""Prometheus metrics of the server (GET /metrics), on a registry of its own.

    dataflow_tasks_total{pipeline,hook,plugin,status}          tasks that ended (run events)
    dataflow_task_duration_seconds{pipeline,hook,plugin,status} their durations (histogram)
    dataflow_runs_total{pipeline,status}     runs this server started that ended
    dataflow_runs_running{pipeline}          runs recorded as running in the store (any
                                             process; one query, cached 5 s)
    dataflow_runs_active                     runs this server is following now
    rollback_operations_total{pipeline,outcome}   tasks rolled back (spec 002 name) (run/rollback_metrics.py)
    dataflow_store_up                        1 when that query answered
    dataflow_jobs_queued, dataflow_jobs_running, dataflow_workers,
    dataflow_cpu_ratio, dataflow_cpu_target_ratio, dataflow_memory_ratio,
    dataflow_governor_duty_ratio             from the engine's resource monitor

Labels never carry run ids. The scheduler and the alerts add their own metrics to
`metrics_for(web).registry`.
"""
from __future__ import annotations

import logging
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from pymongo.errors import PyMongoError

from dataflow.errors import DataflowError
from dataflow.run.rollback_metrics import RollbackCollector
from dataflow.statuses import FINAL_RUN_STATUSES
from dataflow.store.run_pages import run_outcomes, running_by_pipeline
from dataflow.web.context import WebContext

log = logging.getLogger("dataflow.web.metrics")
TASK_LABELS = ("pipeline", "hook", "plugin", "status")
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
STORE_CACHE_SECONDS = 5.0
# snapshot key -> (metric, help, scale)
RESOURCE_GAUGES = {
    "jobs_queued": ("dataflow_jobs_queued", "Jobs waiting for a worker thread", 1),
    "jobs_running": ("dataflow_jobs_running", "Jobs running on the workers", 1),
    "workers": ("dataflow_workers", "Dask workers connected", 1),
    "cpu_percent": ("dataflow_cpu_ratio", "Whole-machine CPU use (0-1)", 0.01),
    "memory_percent": ("dataflow_memory_ratio", "Whole-machine memory use (0-1)", 0.01),
    "duty": ("dataflow_governor_duty_ratio", "Share of time governed workers may run", 1)}


def metrics_for(web: WebContext) -> Metrics:
    """The server's Metrics (made on first use, kept in web.extras["metrics"])."""
    metrics = web.extras.get("metrics")
    if metrics is None:
        metrics = web.extras["metrics"] = Metrics(web)
    return metrics


class Metrics:
    """The registry, the counters fed by run events, and the collectors read per scrape."""

    def __init__(self, web: WebContext):
        self.web = web
        self.registry = CollectorRegistry()
        self.tasks = Counter("dataflow_tasks", "Tasks that ended, by pipeline, hook, plugin "
                             "and status", TASK_LABELS, registry=self.registry)
        self.task_seconds = Histogram("dataflow_task_duration_seconds", "Task durations",
                                      TASK_LABELS, buckets=TASK_BUCKETS, registry=self.registry)
        self.runs = Counter("dataflow_runs", "Runs started by this server that ended, by "
                            "pipeline and status", ("pipeline", "status"), registry=self.registry)
        self._following: dict[str, str] = {}      # run id -> pipeline, until counted
        self._lock = threading.Lock()
        self.registry.register(LiveCollector(web))
        self.registry.register(RollbackCollector())     # rollback_operations_total
        web.service.add_listener(self.on_event)

    def on_event(self, event: dict) -> None:
        """A run listener: never raises into the run's event handling."""
        try:
            self._count(event)
        except Exception:
            log.exception("metrics could not count event %s", event.get("kind"))

    def _pipeline(self, run_id: str | None) -> str:
        with self._lock:
            known = self._following.get(run_id or "")
        if not known:
            handle = self.web.service.engine.active_runs.get(run_id or "")
            known = handle.plan.pipeline if handle is not None else ""
            with self._lock:
                self._following[run_id or ""] = known
        return known

    def _count(self, event: dict) -> None:
        pipeline = self._pipeline(event.get("run_id"))
        if event.get("kind") != "task_finished":
            return
        labels = (pipeline, event.get("hook") or "", event.get("plugin") or "",
                  str(event.get("status") or ""))
        self.tasks.labels(*labels).inc()
        started, finished = event.get("started"), event.get("finished")
        if started and finished and finished >= started:
            self.task_seconds.labels(*labels).observe(finished - started)

    def settle_runs(self) -> None:
        """Count the runs that ended since the last look (their status from the store)."""
        active = set(self.web.service.active())
        with self._lock:
            for run_id in active:
                self._following.setdefault(run_id, "")
            ended = [run_id for run_id in self._following if run_id not in active]
        if not ended:
            return
        outcomes = run_outcomes(self.web.project.db, ended)
        for run_id in ended:
            outcome = outcomes.get(run_id)
            if outcome is not None and outcome.get("status") not in FINAL_RUN_STATUSES:
                continue                   # its end is not recorded yet: next time
            if outcome is not None:
                self.runs.labels(outcome.get("pipeline") or "", outcome["status"]).inc()
            with self._lock:
                self._following.pop(run_id, None)

    def render(self) -> bytes:
        """The text exposition format, after counting the runs that ended."""
        try:
            self.settle_runs()
        except (PyMongoError, DataflowError) as error:
            log.warning("metrics could not read ended runs: %s", error)
        return generate_latest(self.registry)


class LiveCollector:
    """Gauges read at scrape time: the resource monitor, and running runs in the store."""

    def __init__(self, web: WebContext):
        self.web = web
        self._running: tuple[float, dict[str, int] | None] = (0.0, None)
        self._lock = threading.Lock()

    def describe(self):
        return []

    def _running_runs(self) -> dict[str, int] | None:
        with self._lock:
            at, counts = self._running
            if time.monotonic() - at < STORE_CACHE_SECONDS:
                return counts
            try:
                counts = running_by_pipeline(self.web.project.db)
            except (PyMongoError, DataflowError) as error:
                log.warning("metrics could not read running runs: %s", error)
                counts = None
            self._running = (time.monotonic(), counts)
            return counts

    def _resources(self):
        engine = self.web.service.engine
        snapshot = engine.resources.snapshot() if engine.resources is not None else {}
        for key, (name, text, scale) in RESOURCE_GAUGES.items():
            if snapshot.get(key) is not None:
                yield GaugeMetricFamily(name, text, value=snapshot[key] * scale)
        target = snapshot.get("cpu_target", self.web.project.settings.cluster.cpu_target)
        yield GaugeMetricFamily("dataflow_cpu_target_ratio", "CPU share dataflow aims for "
                                "(cluster.cpu_target)", value=target)

    def collect(self):
        yield from self._resources()
        yield GaugeMetricFamily("dataflow_runs_active", "Runs this server is following now",
                                value=len(self.web.service.active()))
        running = self._running_runs()
        yield GaugeMetricFamily("dataflow_store_up", "1 when the store answered the last "
                                "metrics query", value=0 if running is None else 1)
        family = GaugeMetricFamily("dataflow_runs_running", "Runs recorded as running in the "
                                   "store, by pipeline", labels=["pipeline"])
        for pipeline, count in sorted((running or {}).items()):
            family.add_metric([pipeline], count)
        yield family
