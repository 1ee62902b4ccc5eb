"""Where the store is and one cached pymongo client per process and URI.

`StoreAddress` is what travels to Dask workers (it pickles); each process then
opens its own client, once, and reuses it.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from dataflow.errors import StoreUnavailable
from dataflow.config.settings import Settings
from dataflow.store.embedded import START_TIMEOUT, ensure_embedded_server
from dataflow.store.write_counter import WriteCounter

if TYPE_CHECKING:
    from pymongo.database import Database

STATE_DIR = ".dataflow"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")
REVIVE_EVERY = 2.0     # seconds between two attempts to bring a dead embedded server back
REVIVE_TIMEOUT = 2 * START_TIMEOUT + 10
REVIVE_CODE = ("import sys; from pathlib import Path; from dataflow.errors import DataflowError\n"
               "from dataflow.store.embedded import ensure_embedded_server\n"
               "try:\n    ensure_embedded_server(Path(sys.argv[1]))\n"
               "except DataflowError as error:\n    sys.exit(str(error).replace('\\n', ' '))")
log = logging.getLogger("dataflow.store")
_clients: dict[str, MongoClient] = {}
_clients_lock = threading.Lock()
_state_dirs: dict[str, str] = {}       # uri -> state folder, for embedded servers' clients
_last_revive: dict[str, float] = {}


@dataclass(frozen=True)
class StoreAddress:
    """A MongoDB URI and the database names dataflow uses there."""

    uri: str
    database: str = "dataflow"
    embedded: bool = False
    state_dir: str = ""     # the embedded server's state folder: it is restarted from there

    @property
    def data_database(self) -> str:
        """The database plugins keep their own data in (`services["db"]`)."""
        return f"{self.database}_data"

    def client(self) -> MongoClient:
        with _clients_lock:
            client = _clients.get(self.uri)
            if client is None:
                client = MongoClient(self.uri, serverSelectionTimeoutMS=10_000,
                                     connectTimeoutMS=5_000, tz_aware=True,
                                     event_listeners=[WriteCounter()])
                _clients[self.uri] = client
                if self.embedded and self.state_dir:
                    _state_dirs[self.uri] = self.state_dir
            return client

    def revive(self) -> bool:
        """Bring a dead embedded server back (on its port: open clients reconnect by
        themselves); True when the store should answer again. False for other stores."""
        return bool(self.embedded and self.state_dir) and _revive(self.state_dir)

    def system_db(self) -> Database[Any]:
        return self.client()[self.database]

    def data_db(self) -> Database[Any]:
        return self.client()[self.data_database]

    def redacted(self) -> str:
        """The URI without credentials, for messages and logs."""
        scheme, _, rest = self.uri.partition("://")
        return f"{scheme}://{rest.split('@', 1)[-1]}" if "@" in rest else self.uri


def resolve_address(project_dir: Path, settings: Settings) -> StoreAddress:
    """The configured MongoDB, or the project's embedded server (started if needed)."""
    if settings.store_uri:
        return StoreAddress(settings.store_uri, settings.store_database)
    state_dir = Path(project_dir).resolve() / STATE_DIR
    uri = ensure_embedded_server(state_dir)
    return StoreAddress(uri, settings.store_database, embedded=True, state_dir=str(state_dir))


def revive_store(client: MongoClient) -> bool:
    """If `client` is one of ours talking to an embedded server, make sure that server runs
    again (see StoreAddress.revive); False for any other client."""
    with _clients_lock:
        state_dir = next((_state_dirs.get(uri) for uri, known in _clients.items()
                          if known is client), None)
    return state_dir is not None and _revive(state_dir)


def _revive(state_dir: str) -> bool:
    """ensure_embedded_server, at most every REVIVE_EVERY seconds per folder, and only where
    the folder exists (a worker on another machine does not start a server of its own).
    It runs in a short-lived process of its own, so a server it starts belongs to no
    worker or command: ending one (a cluster kills its workers' process trees) leaves it."""
    now = time.monotonic()
    with _clients_lock:
        if now - _last_revive.get(state_dir, -REVIVE_EVERY) < REVIVE_EVERY:
            return False
        _last_revive[state_dir] = now
    if not (Path(state_dir) / "db").is_dir():
        return False
    try:
        result = subprocess.run([sys.executable, "-c", REVIVE_CODE, state_dir],
                                capture_output=True, text=True, timeout=REVIVE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("the embedded store did not come back: %s", error)
        return False
    if result.returncode != 0:
        problem = (result.stderr.strip().splitlines() or ["?"])[-1]
        log.warning("the embedded store did not come back: %s", problem)
    return result.returncode == 0


def connect_store(address: StoreAddress) -> StoreAddress:
    """Check the store answers; a clear StoreUnavailable if it does not."""
    try:
        address.client().admin.command("ping")
    except PyMongoError as error:
        raise StoreUnavailable(
            f"cannot reach MongoDB at {address.redacted()}: {error}. Check that the server "
            "runs, or unset DATAFLOW_MONGO_URI to use the embedded store") from None
    return address


def checkpoint_mode(setting: str, store: StoreAddress) -> str:
    """files | gridfs | off, resolving `auto` from where the store is: files when the
    store is on this machine, GridFS when it is remote (workers elsewhere could not
    read local files)."""
    if setting != "auto":
        return setting
    host = urlparse(store.uri.split(",")[0]).hostname or ""
    return "files" if store.embedded or host in LOCAL_HOSTS else "gridfs"
