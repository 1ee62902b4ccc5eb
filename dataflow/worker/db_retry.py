"""The plugins' db service: their pymongo Database, riding out a store restart.

A call that fails with AutoReconnect (the connection dropped, the server is away or
restarting) is retried with backoff for up to RETRY_FOR seconds, and a dead embedded
server is started again on its port, where the pooled client finds it by itself. Only
AutoReconnect is retried: every other error is the plugin's to see. A cursor that breaks
while it is being read is not retried (call find() again)."""
from __future__ import annotations

import functools
import inspect
import time
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import AutoReconnect

from dataflow.store.connection import StoreAddress

RETRY_FOR = 90.0     # seconds a call waits for the store to come back
MAX_DELAY = 2.0


class _Retrying:
    """Delegates to a Database or Collection; its methods retry on AutoReconnect."""

    def __init__(self, target: Any, address: StoreAddress):
        self._target, self._address = target, address

    def __getattr__(self, name: str) -> Any:
        return _wrap(getattr(self._target, name), self._address)

    def __getitem__(self, name: str) -> Any:
        return _wrap(self._target[name], self._address)

    def __eq__(self, other: object) -> bool:
        return self._target == (other._target if isinstance(other, _Retrying) else other)

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return f"{self._target!r} (retried on AutoReconnect)"

    def unwrapped(self) -> Any:
        """The pymongo object itself, for code that needs one (no retries there)."""
        return self._target


def retrying_database(address: StoreAddress) -> Any:
    """The plugins' data database of `address`, its calls retried on AutoReconnect."""
    return _Retrying(address.data_db(), address)


def _wrap(value: Any, address: StoreAddress) -> Any:
    if isinstance(value, (Database, Collection)):
        return _Retrying(value, address)
    if inspect.ismethod(value):
        return functools.wraps(value)(functools.partial(_retried, value, address))
    return value


def _retried(call: Any, address: StoreAddress, *args: Any, **kwargs: Any) -> Any:
    deadline, delay = time.monotonic() + RETRY_FOR, 0.1
    while True:
        try:
            return _wrap(call(*args, **kwargs), address)
        except AutoReconnect:
            if time.monotonic() + delay > deadline:
                raise
            address.revive()
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
