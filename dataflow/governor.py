"""CPU governor: keeps whole-machine CPU near `cluster.cpu_target` by duty-cycling workers.

Every period (100 ms) the local worker processes may run for `duty` of it and are
paused (SIGSTOP) for the rest, then resumed (SIGCONT). An integral controller moves
`duty` so that measured whole-machine CPU, other programs' load included, meets the
target: dataflow backs off when something else takes the CPU and comes back when it
is gone. With no CPU-bound work CPU stays under target, duty is 1 and nothing pauses.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import psutil

MIN_DUTY = 0.05
GAIN = 0.35               # duty change per period per unit of CPU error
PERIOD = 0.1              # seconds
PID_REFRESH = 2.0         # seconds between refreshes of the worker pid list


def _local_pid() -> tuple[int, str]:
    return os.getpid(), repr(psutil.boot_time())


class CpuGovernor:
    """Duty-cycles the worker processes on this machine; thread-safe stats."""

    def __init__(self, client, target: float = 0.8, period: float = PERIOD):
        self.client, self.target, self.period = client, target, period
        self.duty, self.measured = 1.0, 0.0
        self._pids: list[int] = []
        self._pids_at = 0.0
        self._stop = threading.Event()
        self._boot = repr(psutil.boot_time())
        self._thread = threading.Thread(target=self._loop, name="dataflow-governor", daemon=True)

    def start(self) -> "CpuGovernor":
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def _refresh_pids(self) -> None:
        if time.monotonic() - self._pids_at < PID_REFRESH:
            return
        self._pids_at = time.monotonic()
        try:
            found = self.client.run(_local_pid, wait=True)
        except Exception:          # workers coming and going; try again next refresh
            return
        # Only processes on this machine (same boot time) can be paused from here.
        self._pids = [pid for pid, boot in found.values() if boot == self._boot]

    def _signal(self, sig) -> None:
        for pid in self._pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                self._pids_at = 0.0

    def _cycle(self) -> None:
        run_for = self.duty * self.period
        self._stop.wait(run_for)
        if self.duty < 1.0 and not self._stop.is_set():
            self._signal(signal.SIGSTOP)
            try:
                time.sleep(self.period - run_for)
            finally:
                self._signal(signal.SIGCONT)
        measured = psutil.cpu_percent(None) / 100.0
        self.measured = measured
        self.duty = min(1.0, max(MIN_DUTY, self.duty + GAIN * (self.target - measured)))

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._refresh_pids()
                self._cycle()
        finally:
            self._signal(signal.SIGCONT)

    def stats(self) -> dict:
        return {"cpu_target": self.target, "duty": round(self.duty, 3),
                "cpu_measured": round(self.measured, 3), "governed_workers": len(self._pids)}

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2 * self.period + 1)
        self._signal(signal.SIGCONT)
