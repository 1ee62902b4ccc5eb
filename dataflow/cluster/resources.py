"""The engine's resource side: the CPU governor (local workers) and the monitor."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataflow.cluster.governor import CpuGovernor
from dataflow.cluster.monitor import ResourceMonitor

if TYPE_CHECKING:
    from distributed import Client


class Resources:
    """Starts the governor (when asked) and the monitor for one client; stops both."""

    def __init__(self, client: Client, cpu_target: float, govern: bool = True):
        self.governor = CpuGovernor(client, cpu_target).start() if govern else None
        self.monitor = ResourceMonitor(client, self.governor).start()

    def snapshot(self) -> dict:
        return self.monitor.snapshot()

    def stop(self) -> None:
        self.monitor.stop()
        if self.governor is not None:
            self.governor.stop()
