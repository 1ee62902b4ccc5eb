"""Collapse identical alerts: the first goes out at once, repeats become one summary.

A plugin failing in a loop must not flood a channel, yet the first alert must not
wait. So the first alert of a kind (same `dedupe_key`) opens a window of `window`
seconds; repeats inside it are only counted, and when the window closes (or at
flush/stop) one follow-up says how many there were. This is pure bookkeeping with
the time passed in, used by the dispatcher's single thread only.
"""
from __future__ import annotations

from dataclasses import dataclass

from dataflow.alerts.alert import Alert


@dataclass
class _Window:
    alert: Alert          # the first one, sent already
    opened: float
    repeats: int = 0


class Collapser:
    def __init__(self, window: float):
        self.window = window
        self._open: dict[tuple, _Window] = {}

    def admit(self, alert: Alert, now: float) -> bool:
        """True when `alert` is to be sent now; False when it repeats an open window's."""
        key = alert.dedupe_key
        current = self._open.get(key)
        if current is not None and now < current.opened + self.window:
            current.repeats += 1
            return False
        self._open[key] = _Window(alert, now)
        return True

    def due(self, now: float) -> list[Alert]:
        """Close the windows that ended by `now`: the summaries of those with repeats."""
        ended = [key for key, w in self._open.items() if now >= w.opened + self.window]
        return self._close(ended)

    def drain(self) -> list[Alert]:
        """Close every window now (flush, stop): the summaries of those with repeats."""
        return self._close(list(self._open))

    def next_deadline(self) -> float | None:
        """When the earliest window with repeats ends (None: nothing to summarise)."""
        ends = [w.opened + self.window for w in self._open.values() if w.repeats]
        return min(ends, default=None)

    def _close(self, keys: list[tuple]) -> list[Alert]:
        summaries = []
        for key in keys:
            closed = self._open.pop(key)
            if closed.repeats:
                summaries.append(closed.alert.repeated(closed.repeats, self.window))
        return summaries
