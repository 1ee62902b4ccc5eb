"""Where the store is and one cached pymongo client per process and URI.

`StoreAddress` is what travels to Dask workers (it pickles); each process then
opens its own client, once, and reuses it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from dataflow.errors import StoreUnavailable
from dataflow.config.settings import Settings
from dataflow.store.embedded import ensure_embedded_server
from dataflow.store.write_counter import WriteCounter

if TYPE_CHECKING:
    from pymongo.database import Database

STATE_DIR = ".dataflow"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "")
_clients: dict[str, MongoClient] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class StoreAddress:
    """A MongoDB URI and the database names dataflow uses there."""

    uri: str
    database: str = "dataflow"
    embedded: bool = False

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
            return client

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
    uri = ensure_embedded_server(Path(project_dir) / STATE_DIR)
    return StoreAddress(uri, settings.store_database, embedded=True)


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
