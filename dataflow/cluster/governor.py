"""CPU governor: keeps whole-machine CPU near `cluster.cpu_target` by duty-cycling workers.

Every period (100 ms) the local worker processes may run for `duty` of it and are
paused (SIGSTOP) for the rest, then resumed (SIGCONT). Each period measures the
machine's CPU and the workers' own; what is not the workers' is other load (other
programs, the store, the orchestrator). The workers may use what the target leaves:
    duty = (target − other load) / (what the workers would use unpaused)
so dataflow backs off when something else takes the CPU and comes back when it is
gone, and never pauses workers that are waiting rather than computing.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING

import psutil

from dataflow.background import BackgroundThread

if TYPE_CHECKING:
    from distributed import Client

MIN_DUTY = 0.1            # never starve the workers completely
IDLE_SHARE = 0.02         # workers using less of the machine than this are not worth pausing
SMOOTHING = 0.5           # weight of the newest measurement
PERIOD = 0.1              # seconds
IDLE_PERIOD = 0.4         # seconds between measurements while the workers are idle
PID_REFRESH = 2.0         # seconds between refreshes of the worker pid list


def _local_pid() -> tuple[int, str]:
    return os.getpid(), repr(psutil.boot_time())


class CpuGovernor:
    """Duty-cycles the worker processes on this machine; thread-safe stats."""

    def __init__(self, client: Client, target: float = 0.8, period: float = PERIOD):
        self.client, self.target, self.period = client, target, period
        self.duty, self.measured, self.other, self.demand = 1.0, 0.0, 0.0, 0.0
        self.share = 0.0
        self._processes: list[psutil.Process] = []
        self._refreshed = 0.0
        self._cores = psutil.cpu_count() or 1
        self._boot = repr(psutil.boot_time())
        self._thread = BackgroundThread("dataflow-governor", self._loop, 2 * period + 1)
        self._stop = self._thread.stopping

    def start(self) -> "CpuGovernor":
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def _refresh_workers(self) -> None:
        if time.monotonic() - self._refreshed < PID_REFRESH:
            return
        self._refreshed = time.monotonic()
        try:
            found = self.client.run(_local_pid, wait=True)
        except Exception:          # workers coming and going; try again next refresh
            return
        # Only processes on this machine (same boot time) can be paused from here.
        pids = [pid for pid, boot in found.values() if boot == self._boot]
        self._processes = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]

    def _signal(self, sig) -> None:
        for process in self._processes:
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                self._refreshed = 0.0

    def _worker_cpu_seconds(self) -> float:
        total = 0.0
        for process in self._processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                self._refreshed = 0.0
        return total

    def _pause_phase(self, run_for: float) -> None:
        self._stop.wait(run_for)
        if self.duty < 1.0 and not self._stop.is_set():
            self._signal(signal.SIGSTOP)
            try:
                time.sleep(self.period - run_for)
            finally:
                self._signal(signal.SIGCONT)

    def _cycle(self) -> None:
        started, worker_before = time.monotonic(), self._worker_cpu_seconds()
        idle = self.duty >= 1.0 and self.share < IDLE_SHARE
        # idle workers are only watched, less often: the governor then costs next to nothing
        self._pause_phase(IDLE_PERIOD if idle else self.duty * self.period)
        elapsed = max(time.monotonic() - started, 1e-3)
        worker_share = (self._worker_cpu_seconds() - worker_before) / (elapsed * self._cores)
        machine = psutil.cpu_percent(None) / 100.0
        demand = worker_share / max(self.duty, MIN_DUTY)
        self.measured = machine
        self.other += SMOOTHING * (max(0.0, machine - worker_share) - self.other)
        self.demand += SMOOTHING * (demand - self.demand)
        self.share += SMOOTHING * (worker_share - self.share)
        if self.share < IDLE_SHARE:     # idle workers: pausing them saves nothing
            self.duty = 1.0
        else:
            allowed = max(0.0, self.target - self.other)
            self.duty = min(1.0, max(MIN_DUTY, allowed / self.demand))

    def _loop(self, stopping: threading.Event) -> None:
        psutil.cpu_percent(None)     # psutil measures per calling thread: prime this one
        try:
            while not self._stop.is_set():
                self._refresh_workers()
                self._cycle()
        finally:
            self._signal(signal.SIGCONT)

    def stats(self) -> dict:
        return {"cpu_target": self.target, "duty": round(self.duty, 3),
                "cpu_measured": round(self.measured, 3), "cpu_other": round(self.other, 3),
                "worker_demand": round(self.demand, 3), "governed_workers": len(self._processes)}

    def stop(self) -> None:
        self._thread.stop()
        self._signal(signal.SIGCONT)
