"""Run listeners: observers of the one stream of run events, each on its own thread.

Events: run_started, task_started, progress, log, task_finished (its status says
completed, failed, cancelled, skipped, timed out), run_finished. A `ListenerSet` hands
every event to each of its listeners through a small queue and a thread of that
listener's own, so a slow or hanging listener never delays the run nor the others;
one that raises is logged (once a minute per listener) and called again next event.

Users add their own, found by `discover_listeners`:

    listeners/<name>.py beside each plugin folder: `on_event(event)` or a `LISTENER` callable
    the entry-point group `dataflow.listeners`: a callable, or a module as above
"""
from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from dataflow.background import BackgroundThread

if TYPE_CHECKING:
    from dataflow.project import Project

log = logging.getLogger("dataflow.listeners")
Listener = Callable[[dict], Any]
ENTRY_POINT_GROUP = "dataflow.listeners"
FOLDER = "listeners"
QUEUE_SIZE = 10_000      # events waiting per listener; the oldest go when full
NOTE_INTERVAL = 60.0     # seconds between two log lines about one listener's trouble
HANG_SECONDS = 10.0      # one event handled longer than this: the listener is reported
STOP_WAIT = 5.0          # seconds stop() gives all listeners to finish their queues


def listener_name(listener: Listener) -> str:
    name = getattr(listener, "__qualname__", None) or type(listener).__name__
    module = getattr(listener, "__module__", None)
    return f"{module}.{name}" if module else str(name)


class _Channel:
    """One listener, its queue and its thread."""

    def __init__(self, listener: Listener, name: str):
        self.listener, self.name = listener, name
        self.queue: deque[dict] = deque()
        self.ready = threading.Condition()
        self.closing = False
        self.busy_since: float | None = None
        self.failures = self.dropped = 0
        self._noted = -NOTE_INTERVAL * 2
        self.thread = BackgroundThread(f"dataflow-listener-{name}", self._loop).start()

    def put(self, event: dict) -> None:
        with self.ready:
            if len(self.queue) >= QUEUE_SIZE:
                self.queue.popleft()
                self.dropped += 1
            self.queue.append(event)
            self.ready.notify()
            busy_since = self.busy_since
        if busy_since is not None and time.monotonic() - busy_since > HANG_SECONDS:
            self._note(log.warning, "run listener %s has been handling one event for %.0f s; "
                       "its events wait (%d dropped so far)", self.name,
                       time.monotonic() - busy_since, self.dropped)

    def _note(self, say: Callable[..., None], *args: Any) -> None:
        now = time.monotonic()
        if now - self._noted >= NOTE_INTERVAL:
            self._noted = now
            say(*args)

    def _loop(self, stopping: threading.Event) -> None:
        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.queue or self.closing)
                if not self.queue:
                    return
                event = self.queue.popleft()
                self.busy_since = time.monotonic()
            try:
                self.listener(event)
            except Exception:      # a listener's bug is logged, never the run's problem
                self.failures += 1
                self._note(log.exception, "run listener %s failed on a %s event (%d failure(s) "
                           "so far; logged at most once a minute)", self.name,
                           event.get("kind"), self.failures)
            with self.ready:
                self.busy_since = None
                self.ready.notify_all()

    def idle(self) -> bool:
        return not self.queue and self.busy_since is None

    def wait_idle(self, timeout: float) -> bool:
        with self.ready:
            return self.ready.wait_for(self.idle, timeout)

    def stop(self, timeout: float) -> bool:
        with self.ready:
            self.closing = True
            self.ready.notify_all()
        return self.thread.stop(timeout)


class ListenerSet:
    """Listeners called off the caller's thread; calling the set never blocks."""

    def __init__(self, listeners: Iterable[Listener | tuple[str, Listener]] = ()):
        self._channels: list[_Channel] = []
        self._lock = threading.Lock()
        for item in listeners:
            name, listener = item if isinstance(item, tuple) else (None, item)
            self.add(listener, name)

    def add(self, listener: Listener, name: str | None = None) -> None:
        channel = _Channel(listener, name or listener_name(listener))
        with self._lock:
            self._channels.append(channel)

    def names(self) -> list[str]:
        with self._lock:
            return [channel.name for channel in self._channels]

    def __len__(self) -> int:
        return len(self.names())

    def __call__(self, event: dict) -> None:
        with self._lock:
            channels = list(self._channels)
        for channel in channels:
            channel.put(event)

    def drain(self, timeout: float = STOP_WAIT) -> bool:
        """Wait (at most `timeout` s in all) until every listener has handled its events."""
        deadline = time.monotonic() + timeout
        with self._lock:
            channels = list(self._channels)
        return all([channel.wait_idle(max(0.0, deadline - time.monotonic()))
                    for channel in channels])

    def stop(self, timeout: float = STOP_WAIT) -> bool:
        """Let each listener finish its queue, then end its thread (at most `timeout` s in
        all; a listener still busy then is left behind on its daemon thread)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            channels, self._channels = list(self._channels), []
        return all([channel.stop(max(0.0, deadline - time.monotonic()))
                    for channel in channels])


def _callable_of(found: object) -> Listener | None:
    """A module's on_event / LISTENER, or the callable itself."""
    if isinstance(found, ModuleType):
        found = getattr(found, "LISTENER", None) or getattr(found, "on_event", None)
    return found if callable(found) else None


def folder_listeners(folder: Path) -> list[tuple[str, Listener]]:
    """The listeners of the modules in `folder` (modules named _* are skipped)."""
    found: list[tuple[str, Listener]] = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            spec = importlib.util.spec_from_file_location(
                f"dataflow_listener_{abs(hash(str(path)))}_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception:       # a broken listener must not stop runs
            log.exception("listener module %s could not be imported; skipped", path)
            continue
        listener = _callable_of(module)
        if listener is None:
            log.warning("%s defines neither on_event(event) nor LISTENER; skipped", path)
        else:
            found.append((f"{FOLDER}/{path.stem}", listener))
    return found


def entry_point_listeners() -> list[tuple[str, Listener]]:
    found: list[tuple[str, Listener]] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            listener = _callable_of(point.load())
        except Exception:
            log.exception("listener entry point %s could not be loaded; skipped", point.name)
            continue
        if listener is None:
            log.warning("listener entry point %s is not callable; skipped", point.name)
        else:
            found.append((f"entry-point/{point.name}", listener))
    return found


def listener_folders(project_dir: Path, plugin_paths: Iterable[str]) -> list[Path]:
    """`listeners/` beside each plugin folder (for the default `plugins`: the project's)."""
    folders: list[Path] = []
    for plugin_path in plugin_paths:
        folder = ((project_dir / plugin_path).resolve().parent / FOLDER)
        if folder.is_dir() and folder not in folders:
            folders.append(folder)
    return folders


def discover_listeners(project: Project) -> list[tuple[str, Listener]]:
    """The user's listeners of `project`: its listeners/ folders, then entry points."""
    settings = project.settings
    found = [item for folder in listener_folders(project.directory, settings.plugin_paths)
             for item in folder_listeners(folder)]
    if settings.entry_points:
        found += entry_point_listeners()
    for name, _ in found:
        log.debug("run listener %s registered", name)
    return found
