"""Live updates for open pages, pushed over each session's websocket.

One `LiveHub` per server (per WebContext):

* a watcher thread asks the store for `change_marker` (two small index reads) twice a
  second while any page watches, and tells the watching pages when it changed — a run
  started or ended anywhere (this server, the CLI, another server) shows within a second,
  and pages query nothing while nothing changes;
* one RunService listener hands the events of runs in this process (task started /
  finished, progress, log records) to the pages following that run.

Pages are called on their own session's thread (`Pusher`: `doc.add_next_tick_callback`,
the thread-safe way into a Bokeh document), never on the watcher or the Dask event thread.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import panel as pn
from panel.io.state import set_curdoc

from dataflow.background import BackgroundThread
from dataflow.store.run_views import change_marker

if TYPE_CHECKING:
    from bokeh.document import Document

log = logging.getLogger("dashboards.live")
WATCH_INTERVAL = 0.5         # seconds between two looks at the store
MIN_APPLY_INTERVAL = 0.2     # seconds: events arriving faster are applied in batches
_tokens = itertools.count(1)
CURRENT = object()           # watch(seen=CURRENT): the page read the store after the last look


def _in_doc(doc, callback: Callable[[], None]) -> None:
    try:
        with set_curdoc(doc):
            callback()
    except Exception:        # a page's bug must not stop the session or the run's events
        log.exception("live update of a page failed")


class Pusher:
    """Runs callbacks on one session's document (server), or at once (notebook)."""

    def __init__(self, doc=None):
        self.doc = doc if doc is not None else pn.state.curdoc

    @property
    def served(self) -> bool:
        return self._session_doc is not None

    @property
    def _session_doc(self) -> Document | None:
        """The document when it belongs to a server session, else None."""
        doc = self.doc
        return doc if doc is not None and doc.session_context is not None else None

    def call(self, callback: Callable[[], None]) -> None:
        """Thread-safe: schedule `callback` on the session's next tick (in a notebook,
        call it here: Panel sends the change over the kernel's comm)."""
        doc = self._session_doc
        if doc is not None:
            doc.add_next_tick_callback(partial(_in_doc, doc, callback))
        else:
            _in_doc(self.doc, callback)

    def later(self, seconds: float, callback: Callable[[], None]) -> None:
        """Call back after `seconds` (served: call this on the session's thread only)."""
        doc = self._session_doc
        if doc is not None:
            doc.add_timeout_callback(partial(_in_doc, doc, callback), int(seconds * 1000))
            return
        timer = threading.Timer(seconds, partial(_in_doc, self.doc, callback))
        timer.daemon = True
        timer.start()


class EventBatch:
    """Collects events from any thread; applies them in batches on the session's thread."""

    def __init__(self, pusher: Pusher, apply: Callable[[list[dict]], None]):
        self.pusher, self.apply = pusher, apply
        self._events: list[dict] = []
        self._scheduled = False
        self._last = 0.0
        self._lock = threading.Lock()

    def offer(self, event: dict) -> None:
        with self._lock:
            self._events.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        self.pusher.call(self._flush)

    def _flush(self) -> None:
        wait = self._last + MIN_APPLY_INTERVAL - time.monotonic()
        if wait > 0 and self.pusher.served:
            self.pusher.later(wait, self._flush)
            return
        with self._lock:
            events, self._events, self._scheduled = self._events, [], False
        self._last = time.monotonic()
        if events:
            self.apply(events)


class LiveHub:
    """The store watcher and the event fan-out of one server (see the module doc)."""

    def __init__(self, web, interval: float = WATCH_INTERVAL):
        self.web, self.interval = web, interval
        self._lock = threading.Lock()
        self._watchers: dict[int, list] = {}      # token: [pusher, callback, marker seen]
        self._followers: dict[str, dict[int, EventBatch]] = {}
        self._log_seq: dict[str, int] = {}
        self._thread: BackgroundThread | None = None
        self._stopped = False
        self.marker: frozenset | None = None
        self._engine = web.service.engine
        self._unsynced = set(self._engine.active_runs)    # began before the hub listened
        web.service.add_listener(self._on_event)

    # subscriptions ---------------------------------------------------------------------
    def watch(self, pusher: Pusher, callback: Callable[[], None], seen=CURRENT) -> int:
        """Call `callback` (on the session's thread) whenever the runs change from what
        the page last read. Subscribe before the page's first query, or pass `seen`: the
        hub's `marker` taken before it."""
        token = next(_tokens)
        with self._lock:
            self._watchers[token] = [pusher, callback, self.marker if seen is CURRENT else seen]
            if self._thread is None and not self._stopped:
                self._thread = BackgroundThread("dataflow-ui-watch", self._loop).start()
        return token

    def follow(self, run_id: str, pusher: Pusher, apply: Callable[[list[dict]], None]) -> int:
        """Hand the events of run `run_id` (from this process) to `apply`, in batches."""
        token = next(_tokens)
        with self._lock:
            self._followers.setdefault(run_id, {})[token] = EventBatch(pusher, apply)
        return token

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._watchers.pop(token, None)
            for followers in self._followers.values():
                followers.pop(token, None)
            self._followers = {run: f for run, f in self._followers.items() if f}

    def has_events(self, run_id: str) -> bool:
        """Whether this process runs `run_id` and the hub has seen all of its events."""
        return run_id in self._engine.active_runs and run_id not in self._unsynced

    def log_seq(self, run_id: str) -> int:
        """How many log records of this run the hub has seen (the last one's `seq`)."""
        with self._lock:
            return self._log_seq.get(run_id, 0)

    # the event listener (Dask client thread: quick, no store calls) --------------------------
    def _on_event(self, event: dict) -> None:
        run_id = event.get("run_id")
        if run_id is None:          # not a run's event: no page follows it
            return
        with self._lock:
            if event.get("kind") == "log":
                self._log_seq[run_id] = self._log_seq.get(run_id, 0) + 1
                event = {**event, "seq": self._log_seq[run_id]}
            batches = list(self._followers.get(run_id, {}).values())
        for batch in batches:
            batch.offer(event)

    # the watcher thread ----------------------------------------------------------------
    def _loop(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.interval):
            with self._lock:
                if not self._watchers or self._stopped:
                    self._thread = None
                    return
            self.check()

    def check(self) -> int:
        """Look at the store once; tell every watcher that has not seen this state yet.
        Returns how many were told."""
        try:
            marker = change_marker(self.web.project.db)
        except Exception as error:            # store away for a moment: try again next time
            log.debug("change marker failed: %s", error)
            return 0
        self.marker = marker
        with self._lock:
            stale = [watcher for watcher in self._watchers.values() if watcher[2] != marker]
            for watcher in stale:
                watcher[2] = marker
        for pusher, callback, _ in stale:
            pusher.call(callback)
        return len(stale)

    def stop(self) -> None:
        """Stop the watcher thread (server shutdown); open pages stop updating."""
        with self._lock:
            self._stopped, thread = True, self._thread
            self._watchers.clear()
            self._followers.clear()
        if thread is not None:
            thread.stop()


HUB = "dashboards.live"          # where a server's LiveHub is kept in web.extras


def hub_for(web) -> LiveHub:
    """The server's one LiveHub (created with the pages, before any run starts)."""
    hub = web.extras.get(HUB)
    if hub is None:
        hub = web.extras[HUB] = LiveHub(web)
    return hub


def stop_hub(web) -> None:
    hub = web.extras.get(HUB)
    if hub is not None:
        hub.stop()
