"""One loop's side of the scheduler lease (`schedule_lease`: only its holder fires) and
of its own record (`scheduler_loops`: start, heartbeat, last tick, stop).

The lease is taken or renewed at every tick, atomically, only when it expired or is
already this loop's. During a long burst of triggers it is renewed every third of its
time (`renew_if_due`), so a standby loop never takes over from a busy one; a loop that
stops renewing (dead, hung) loses it once it expires.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from dataflow.store import schedules as store

log = logging.getLogger("dataflow.schedule")


def default_holder() -> str:
    """host:pid:random — unique per loop, readable in `dataflow schedule`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """Take, renew and release the lease for `holder`; record the loop's life."""

    def __init__(self, db: Callable[[], object], holder: str, ttl: float):
        self._db, self.holder, self.ttl = db, holder, ttl
        self.holding = False
        self.lease_holder: str | None = None        # who holds it, as last seen
        self._registered = False
        self._renewed = 0.0
        self._lock = threading.Lock()

    def renew(self, now: datetime) -> bool:
        """Take or renew the lease, heartbeat; whether this loop holds it now."""
        db = self._db()
        if not self._registered:
            store.ensure_indexes(db)
            store.loop_started(db, self.holder, {"host": socket.gethostname(),
                                                 "pid": os.getpid(), "lease_ttl": self.ttl}, now)
            self._registered = True
        holding = store.take_lease(db, self.holder, now, self.ttl)
        self._renewed = time.monotonic()
        if holding != self.holding:
            log.info("scheduler %s %s the lease", self.holder, "took" if holding else "lost")
        self.holding = holding
        store.loop_heartbeat(db, self.holder, {"heartbeat": now, "last_tick": now,
                                               "holding": holding})
        self.lease_holder = self.holder if holding else (store.lease(db) or {}).get("holder")
        return holding

    def renew_if_due(self, now: datetime) -> None:
        """Renew when a third of the lease passed since the last renewal (any thread)."""
        with self._lock:
            due = time.monotonic() - self._renewed > self.ttl / 3
            if due:
                self._renewed = time.monotonic()
        if due:
            store.take_lease(self._db(), self.holder, now, self.ttl)

    def release(self, now: datetime, reason: str) -> None:
        """Give the lease up at once (a standby takes over at its next tick); record the stop."""
        db = self._db()
        if self.holding:
            store.release_lease(db, self.holder, now)
        if self._registered:
            store.loop_stopped(db, self.holder, now, reason)
        self.holding = False
