"""Resource monitor: current CPU, memory, workers and jobs, sampled on a thread.

The CLI's progress display reads `snapshot()` now; the UI will later. Job counts
come from the scheduler (one small call a sample), by state of the `job:` keys.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import psutil

from dataflow.background import BackgroundThread

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.cluster.governor import CpuGovernor

INTERVAL = 1.0


def _is_job(key) -> bool:
    return isinstance(key, str) and key.startswith("job:")


def _job_counts(dask_scheduler=None) -> dict:
    """Jobs running (at most one a worker thread) and jobs waiting for a thread."""
    states = [state.state for key, state in dask_scheduler.tasks.items() if _is_job(key)]
    processing = states.count("processing")
    threads = sum(ws.nthreads for ws in dask_scheduler.workers.values())
    running = min(processing, threads)
    waiting = processing - running + sum(
        state in ("queued", "waiting", "no-worker") for state in states)
    return {"jobs_queued": waiting, "jobs_running": running}


class ResourceMonitor:
    """Samples the machine and the cluster every second while started."""

    def __init__(self, client: Client, governor: CpuGovernor | None = None,
                 interval: float = INTERVAL):
        self.client, self.governor, self.interval = client, governor, interval
        self._snapshot: dict = {}
        self._lock = threading.Lock()
        self._thread = BackgroundThread("dataflow-monitor", self._loop, interval + 2)

    def start(self) -> "ResourceMonitor":
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def sample(self) -> dict:
        snapshot: dict[str, Any] = {"time": time.time(), "cpu_percent": psutil.cpu_percent(None),
                    "memory_percent": psutil.virtual_memory().percent,
                    "workers": len(self.client.scheduler_info().get("workers", {}))}
        try:
            snapshot.update(self.client.run_on_scheduler(_job_counts))
        except Exception:        # scheduler busy or gone: keep the machine figures
            snapshot.update(jobs_queued=None, jobs_running=None)
        if self.governor is not None:
            snapshot.update(self.governor.stats())
        return snapshot

    def _loop(self, stopping: threading.Event) -> None:
        psutil.cpu_percent(None)     # psutil measures per calling thread: prime this one
        while not stopping.wait(self.interval):
            snapshot = self.sample()
            with self._lock:
                self._snapshot = snapshot

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._snapshot)

    def stop(self) -> None:
        self._thread.stop()
