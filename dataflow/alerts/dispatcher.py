"""Deliver alerts in the background so that alerting can never slow or break a run.

`submit` only appends to a bounded queue (when full, the oldest alert is dropped and
counted): the engine's event thread must not wait on Slack or SMTP. One daemon
thread sends, each attempt bounded by the notifier's timeout, retried with doubling
backoff; a failure is logged (redacted) and counted, never raised. Identical alerts
are collapsed (see collapse.py). `flush` and `stop` wait at most their timeout.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque

from dataflow.alerts.alert import Alert
from dataflow.alerts.channels import build_notifiers
from dataflow.alerts.collapse import Collapser
from dataflow.alerts.redact import error_text, redact
from dataflow.alerts.settings import AlertSettings

logger = logging.getLogger("dataflow.alerts")
FAILED_COUNT = "undelivered"     # the counter of alerts no channel could deliver
MAX_BACKOFF = 30.0


class AlertDispatcher:
    """Queue + one sending thread, started on creation. Use `with` or call `stop()`."""

    def __init__(self, settings: AlertSettings, notifiers: dict | None = None):
        self._settings = settings
        self._notifiers = build_notifiers(settings) if notifiers is None else dict(notifiers)
        self._secrets = tuple(settings.secret_values()) + tuple(
            s for n in self._notifiers.values() for s in getattr(n, "secrets", ()))
        self._collapser = Collapser(settings.collapse_window)
        self._queue: deque[Alert] = deque()
        self._cv = threading.Condition()
        self._counts = {"sent": 0, FAILED_COUNT: 0, "collapsed": 0, "dropped": 0}
        self._flush_wanted = self._flush_done = 0
        self._stopping = False
        self._abort = threading.Event()       # stop() ran out of time: give up sending
        self._thread = threading.Thread(target=self._run, name="dataflow-alerts", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"AlertDispatcher(channels={sorted(self._notifiers)}, stats={self.stats()})"

    def __enter__(self) -> AlertDispatcher:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def submit(self, alert: Alert) -> None:
        """Queue `alert` for sending; returns at once, whatever the channels do."""
        with self._cv:
            if self._stopping:
                self._counts["dropped"] += 1
                return
            if len(self._queue) >= self._settings.queue_size:
                self._queue.popleft()
                self._counts["dropped"] += 1
            self._queue.append(alert)
            self._cv.notify_all()

    def stats(self) -> dict[str, int]:
        """Counters since start, for metrics: sent / undelivered (per channel delivery, undelivered =
        after all retries), collapsed (repeats swallowed), dropped (queue full, or after
        stop), and queued (waiting now)."""
        with self._cv:
            return {**self._counts, "queued": len(self._queue)}

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is queued and the pending repeat summaries; False if `timeout` passed."""
        with self._cv:
            self._flush_wanted += 1
            ticket = self._flush_wanted
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._flush_done >= ticket or not self._thread.is_alive(),
                              timeout)
            return self._flush_done >= ticket

    def stop(self, timeout: float = 10.0) -> bool:
        """Send what is queued, then end the thread; False (and sending abandoned) on timeout."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            logger.warning("alert dispatcher stopped after %.1f s with alerts unsent", timeout)
            return False
        return True

    def _has_work(self) -> bool:
        return bool(self._queue) or self._stopping or self._flush_done < self._flush_wanted

    def _wait_time(self) -> float | None:
        deadline = self._collapser.next_deadline()
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(self._has_work, self._wait_time())
                alert = self._queue.popleft() if self._queue else None
                idle = alert is None
                flush_ticket = self._flush_wanted if idle else self._flush_done
                stopping = idle and self._stopping
            if alert is not None and self._collapser.admit(alert, time.monotonic()):
                self._deliver(alert)
            elif alert is not None:
                self._count("collapsed")
            summaries = self._collapser.due(time.monotonic())
            if idle and (flush_ticket > self._flush_done or stopping):
                summaries += self._collapser.drain()
            for summary in summaries:
                self._deliver(summary)
            with self._cv:
                self._flush_done = max(self._flush_done, flush_ticket)
                self._cv.notify_all()
            if stopping:
                return

    def _count(self, name: str) -> None:
        with self._cv:
            self._counts[name] += 1

    def _deliver(self, alert: Alert) -> None:
        for channel in alert.channels:
            notifier = self._notifiers.get(channel)
            if notifier is None:
                logger.debug("no %s channel configured; alert %r not sent there", channel,
                             alert.title)
            elif self._abort.is_set():
                self._count("dropped")
            else:
                outcome = "sent" if self._send(notifier, alert) else FAILED_COUNT
                self._count(outcome)

    def _send(self, notifier, alert: Alert) -> bool:
        """One delivery with bounded retries; True if it went through."""
        attempts = self._settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                notifier.send(alert)
                return True
            except Exception as exc:      # noqa: BLE001 -- a broken channel must not end the thread
                error = error_text(exc, self._secrets)
            if attempt == attempts or self._abort.is_set():
                break
            delay = min(self._settings.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF)
            logger.warning(redact(f"{notifier.channel} alert {alert.title!r}: attempt {attempt} "
                                  f"of {attempts} failed ({error}); retrying in {delay:g} s",
                                  self._secrets))
            self._abort.wait(delay)
        logger.error(redact(f"{notifier.channel} alert {alert.title!r} not sent after {attempt} "
                            f"attempt(s): {error}", self._secrets))
        return False
