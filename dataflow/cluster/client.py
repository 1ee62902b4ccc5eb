"""The Dask cluster a project runs on: a LocalCluster sized to the CPU target, or a scheduler.

On one machine: worker processes (1 thread each), adaptive between a floor that
keeps a hook's plugins parallel and a ceiling near `cpu_target` × cores. CPU is
held at the target by governing CPU-bound work (see governor), not by starving hooks.
"""
from __future__ import annotations

import logging
import math
import os

import dask
import distributed.utils
from distributed import Client, LocalCluster

from dataflow.config.settings import ClusterSettings
from dataflow.cluster.worker_server import worker_server_started
from dataflow.errors import SchedulerUnreachable

MIN_WORKERS = 2
# Dask's own housekeeping, slowed where nothing waits on it: the in-process scheduler and
# nannies of a LocalCluster otherwise cost ~4% of a core while the server idles (the
# event-loop tick every 20 ms, system monitors every 0.5 s, memory checks every 0.1 s).
QUIET_WHEN_IDLE = {"distributed.admin.tick.interval": "500ms",
                   "distributed.admin.system-monitor.interval": "2s",
                   "distributed.worker.memory.monitor-interval": "500ms"}       # below two, the plugins of a hook would run one after another


def worker_bounds(settings: ClusterSettings, cores: int | None = None) -> tuple[int, int]:
    """(minimum, maximum) worker processes for this machine."""
    cores = cores or os.cpu_count() or 1
    ceiling = settings.max_workers or max(MIN_WORKERS, math.floor(settings.cpu_target * cores))
    floor = min(settings.n_workers or MIN_WORKERS, ceiling)
    return floor, max(floor, ceiling)


def allowed_failures(worker_death_retries: int) -> int:
    """Dask's `allowed-failures` for a LocalCluster: enough worker deaths per task for every
    retry, the start that records the task failed (worker/deaths.py), and one worker restart
    to stop a stuck plugin (run/cancel.py); never fewer than Dask's default."""
    return max(int(dask.config.get("distributed.scheduler.allowed-failures")),
               worker_death_retries + 2)


def start_client(settings: ClusterSettings, worker_death_retries: int = 1,
                 dashboard: bool = True) -> tuple[Client, LocalCluster | None]:
    """A client on the configured scheduler, or on a new adaptive LocalCluster (with the
    Dask dashboard at `cluster.dashboard_address` unless `dashboard` is False).

    A scheduler named by address keeps its own `allowed-failures`: it must be above
    `worker_death_retries` for a task to end `failed` as "worker died" rather than erred
    (`KilledWorker`, settled by the orchestrator)."""
    if settings.address:
        try:
            return Client(settings.address, timeout="20s"), None
        except (OSError, TimeoutError) as error:
            raise SchedulerUnreachable(
                f"the Dask scheduler at {settings.address} (cluster.address in "
                f"config/system.yaml, or $DATAFLOW_SCHEDULER) does not answer: {error}. "
                "Fix: start the scheduler, correct the address, or unset both to run on a "
                "local cluster") from None
    minimum, maximum = worker_bounds(settings)
    if worker_server_started():
        fork_workers_from_server()
    with dask.config.set({"distributed.worker.daemon": False,
                          "distributed.scheduler.allowed-failures":
                              allowed_failures(worker_death_retries),
                          "distributed.scheduler.work-stealing": True, **QUIET_WHEN_IDLE}):
        cluster = LocalCluster(
            n_workers=minimum, threads_per_worker=1, processes=True,
            memory_limit=settings.memory_limit or "auto",     # cluster.memory_limit
            dashboard_address=settings.dashboard_address,     # Dask's other HTTP routes too
            scheduler_kwargs={"dashboard": dashboard}, silence_logs=logging.ERROR)
    if maximum > minimum:
        cluster.adapt(minimum=minimum, maximum=maximum)
    return Client(cluster), cluster


def fork_workers_from_server() -> None:
    """Every worker of this process (those started later by adapt or restarted by a nanny
    too) is forked from the warm worker server (cluster/worker_server.py)."""
    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    # Dask would otherwise import numpy, pandas and lz4 here, to preload them into a
    # forkserver that is already running (so to no effect).
    setattr(distributed.utils, "_forkserver_preload_set", True)


def wants_dashboard(settings: ClusterSettings, asked: bool) -> bool:
    """Whether a CLI run's own cluster starts the Dask dashboard: when asked (`--verbose`
    prints where it is) or when system.yaml gives it a fixed port to be found at. On a
    random port, unannounced, nobody could open it, and it costs ~0.45 s of every start."""
    address = settings.dashboard_address
    return bool(address) and (asked or not str(address).endswith(":0"))


def dashboard_link(client: Client) -> str | None:
    try:
        return client.dashboard_link
    except Exception:       # no dashboard (bokeh missing or disabled)
        return None
