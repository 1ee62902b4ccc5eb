"""Plugin code to every Dask worker, present and future, once per source hash.

Before a run is submitted, the engine hands its tasks' plugin references to `ship_code`:
the folder plugin versions not yet sent through this client are packed
(plugins/shipping.py) and registered as one WorkerPlugin. Dask runs its setup() on every
worker now and on every worker that joins later, so a worker on another machine (no
shared filesystem, no plugin folders on its path) imports the exact version a run
planned. A version sent once costs nothing more: later runs only look it up here.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

from dataflow.plugins.shipping import pack, unpack

if TYPE_CHECKING:
    from distributed import Client

    from dataflow.plugins.loader import PluginRef

log = logging.getLogger("dataflow.cluster")
PLUGIN_PREFIX = "dataflow-code-"

_lock = threading.Lock()
_sent: weakref.WeakKeyDictionary[Client, set[str]] = weakref.WeakKeyDictionary()


class PluginCode(WorkerPlugin):
    """Source hash → zip of that plugin version; unpacked on each worker at setup."""

    def __init__(self, archives: dict[str, bytes]):
        self.archives = dict(archives)

    def setup(self, worker=None, **kwargs) -> None:
        # in the worker's own directory: Dask removes it even after a SIGKILL (the next
        # worker purges it), where an atexit handler would never run
        within = getattr(worker, "local_directory", None)
        for source_hash, data in self.archives.items():
            unpack(source_hash, data, Path(within) if within else None)


def _new_archives(refs: Iterable[PluginRef], sent: set[str]) -> dict[str, bytes]:
    archives: dict[str, bytes] = {}
    for ref in refs:
        if not ref.path or ref.source_hash in sent or ref.source_hash in archives:
            continue
        data = pack(ref.source_hash)
        if data is None:      # not read by this process: workers use the folder, if any
            log.warning("plugin %s (source hash %s) was not read by this process; its code "
                        "is not shipped to the workers", ref.module, ref.source_hash)
            continue
        archives[ref.source_hash] = data
    return archives


def ship_code(client: Client, refs: Iterable[PluginRef]) -> list[str]:
    """Send the code of the folder plugin versions among `refs` that this client has not
    sent yet; returns their source hashes."""
    with _lock:
        sent = _sent.setdefault(client, set())
        archives = _new_archives(refs, sent)
        if archives:
            name = hashlib.sha256(" ".join(sorted(archives)).encode()).hexdigest()[:16]
            client.register_plugin(PluginCode(archives), name=PLUGIN_PREFIX + name)
            sent.update(archives)
    return sorted(archives)
