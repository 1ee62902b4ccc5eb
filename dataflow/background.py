"""The one way dataflow runs work on a background thread.

The CPU governor, the resource monitor, the run supervisor and the history writer
(and later the cron loop and the plugin file watcher) are each a `BackgroundThread`:
a named daemon thread with a stop event, a bounded join, and errors logged with the
thread's name instead of silently ending it.

    periodic("dataflow-monitor", 1.0, sample).start()      # step() every second
    BackgroundThread("dataflow-writer", loop).start()       # loop(stopping) owns its timing
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("dataflow.background")
DEFAULT_JOIN = 5.0      # seconds stop() waits for the thread before giving up on it


class BackgroundThread:
    """Runs `target(stopping)` on a daemon thread; `stopping` is set by `stop()`."""

    def __init__(self, name: str, target: Callable[[threading.Event], None],
                 join_timeout: float = DEFAULT_JOIN):
        self.name, self.join_timeout = name, join_timeout
        self.stopping = threading.Event()
        self._target = target
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._target(self.stopping)
        except Exception:      # the thread ends, but never silently
            log.exception("background thread %s failed and stopped", self.name)

    def start(self) -> BackgroundThread:
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to stop and wait for it (bounded); True when it has ended."""
        self.stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.join_timeout if timeout is None else timeout)
        if self._thread.is_alive():
            log.warning("background thread %s did not stop within %.1fs", self.name,
                        self.join_timeout if timeout is None else timeout)
            return False
        return True


def periodic(name: str, interval: float, step: Callable[[], None],
             join_timeout: float | None = None) -> BackgroundThread:
    """A thread calling `step()` every `interval` seconds until stopped; an exception in
    one step is logged and the next step still runs."""
    def loop(stopping: threading.Event) -> None:
        while not stopping.wait(interval):
            try:
                step()
            except Exception:
                log.exception("%s: one step failed; going on", name)
    return BackgroundThread(name, loop, interval + DEFAULT_JOIN if join_timeout is None
                            else join_timeout)
