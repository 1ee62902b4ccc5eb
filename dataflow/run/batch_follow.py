"""One thread follows every run of a burst (run/batch_trigger.py) instead of one thread
per run: it waits for the runs' futures as they complete (`distributed.as_completed`),
and each run whose futures are all done is finished — its end events waited for
(bounded), its result recorded and announced — by `RunService._wait_for` on one of a few
finisher threads, so a run waiting for its last events never holds up the others.
All are daemon threads: a process leaving never waits for them.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

from distributed import as_completed

if TYPE_CHECKING:
    from dataflow.run.result import RunHandle
    from dataflow.run.service import RunService

log = logging.getLogger("dataflow.engine")
FINISHERS = 4           # runs of one burst finished (settled, recorded) at once


def _finisher(service: RunService, ended: queue.Queue) -> None:
    while (handle := ended.get()) is not None:
        try:
            service._wait_for(handle)
        except Exception:           # a run's end not recorded: say so, finish the others
            log.exception("could not record the end of run %s", handle.run_id)


def _follow(service: RunService, handles: list[RunHandle]) -> None:
    left = {handle.run_id: len(handle.futures) for handle in handles}
    by_key = {future.key: handle for handle in handles for future in handle.futures.values()}
    ended: queue.Queue = queue.Queue()
    finishers = [threading.Thread(target=_finisher, args=(service, ended), daemon=True,
                                  name=f"dataflow-finisher-{n}")
                 for n in range(min(FINISHERS, len(handles)))]
    for thread in finishers:
        thread.start()
    handed: set[str] = set()
    for handle in handles:
        if not handle.futures:
            handed.add(handle.run_id)
            ended.put(handle)
    try:
        futures = [future for handle in handles for future in handle.futures.values()]
        for future in as_completed(futures, loop=service.engine.client.loop):
            handle = by_key[future.key]
            left[handle.run_id] -= 1
            if not left[handle.run_id]:
                handed.add(handle.run_id)
                ended.put(handle)
    except Exception:               # the client closed: each run is waited for on its own
        log.exception("following %d runs together failed; following them one by one",
                      len(handles) - len(handed))
    for handle in handles:
        if handle.run_id not in handed:
            ended.put(handle)
    for _ in finishers:
        ended.put(None)


def follow_all(service: RunService, handles: list[RunHandle]) -> threading.Thread | None:
    """Follow `handles` to their ends on one thread, each registered as active on
    `service` until its result is recorded (`service.wait`, `active`, `shutdown` as for
    a run started by trigger())."""
    if not handles:
        return None
    thread = threading.Thread(target=_follow, args=(service, handles), daemon=True,
                              name=f"dataflow-runs-{handles[0].run_id[:8]}+{len(handles) - 1}")
    service._adopt([handle.run_id for handle in handles], thread)
    thread.start()
    return thread
