"""Identical reads that overlap share one store query (request collapsing).

Ten dashboards polling the same run list at once cost the store one query, not ten: a
call that arrives while an identical one is running waits for that one's result instead
of asking again. Nothing is kept afterwards, so an answer is never older than the query
that produced it. Callers must treat the shared result as read-only.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any


class SingleFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future] = {}

    def run(self, key: Hashable, function: Callable[[], Any]) -> Any:
        with self._lock:
            shared = self._running.get(key)
            if shared is None:
                mine = self._running[key] = Future()
        if shared is not None:
            return shared.result()
        try:
            result = function()
        except BaseException as error:
            mine.set_exception(error)
            raise
        else:
            mine.set_result(result)
            return result
        finally:
            with self._lock:
                self._running.pop(key, None)
