"""Events from plugin tasks to the orchestrating process.

On a Dask worker an event goes through the scheduler's event log (`log_event`),
which forwards it to the subscribed client; outside a worker (a plugin run in
the calling process) it goes to local listeners directly. Events never carry
plugin outputs, only small metadata.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from distributed import Worker, get_worker

if TYPE_CHECKING:
    from distributed import Client

TOPIC = "dataflow"
_local_listeners: list = []
_local_lock = threading.Lock()


def current_worker() -> Worker | None:
    """The Dask worker running this thread's task, or None outside a task."""
    try:
        return get_worker()
    except ValueError:
        return None


def emit(event: dict, worker: Worker | None = None) -> None:
    """Send one event to whoever orchestrates the run.

    Pass `worker` from threads that are not a task's own (callbacks, helpers):
    only a task's thread can find its worker by itself.
    """
    worker = worker or current_worker()
    if worker is None:
        with _local_lock:
            listeners = list(_local_listeners)
        for listener in listeners:
            listener(event)
        return
    worker.log_event(TOPIC, event)


def add_local_listener(listener: Callable[[dict], None]) -> None:
    with _local_lock:
        _local_listeners.append(listener)


def remove_local_listener(listener: Callable[[dict], None]) -> None:
    with _local_lock:
        if listener in _local_listeners:
            _local_listeners.remove(listener)


_routes: dict[int, list] = {}      # id(client) -> the routes of the engines using it
_routes_lock = threading.Lock()


def subscribe(client: Client, route: Callable[[dict], None]) -> None:
    """Deliver this client's dataflow events to `route` too (one subscription a client).

    distributed keeps one handler per topic per client, so engines sharing a client
    share one handler that fans out.
    """
    with _routes_lock:
        routes = _routes.get(id(client))
        if routes is None:
            routes = _routes[id(client)] = []
            client.subscribe_topic(TOPIC, lambda event: _fan_out(routes, event[1]))
        routes.append(route)


def _fan_out(routes: list, event: dict) -> None:
    for route in list(routes):
        route(event)


def unsubscribe(client: Client, route: Callable[[dict], None]) -> None:
    with _routes_lock:
        routes = _routes.get(id(client), [])
        if route in routes:
            routes.remove(route)
