"""Where a stream's chunks come from and where they are processed.

A dask DataFrame: partition k is computed on the cluster and, on the worker that holds
it, sent through the chain (worker/stream_step.py) — one chunk in flight per worker thread,
each placed on the least busy worker, so chunk k of one hook runs while chunk k+1 of the
hook before it is read, and no worker holds more than its share of chunks. A generator:
drawn on a helper thread at most WINDOW frames ahead, each frame sent through the chain by
the driving task itself. Either way, a bounded number of chunks
is held; the driver gets back only row counts, in chunk order.
"""
from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from distributed import get_client

from dataflow.model import RunEnv
from dataflow.worker.jobs import seceded
from dataflow.worker.stream_step import Step, process_chunk
from dataflow.worker.streaming import is_dask_frame

WINDOW = 2          # generator frames drawn ahead of the one being processed


def _threads(client: Any) -> dict[str, int]:
    """{worker address: threads} of the cluster now."""
    return {address: int(worker.get("nthreads", 1))
            for address, worker in client.scheduler_info()["workers"].items()}


def in_flight(client: Any) -> int:
    """Chunks processed at once: one per worker thread (at least 2), so every worker is
    busy and each holds about one chunk (read, then sent through the chain)."""
    return max(2, sum(_threads(client).values()))


def _least_busy(client: Any, pending: list) -> str | None:
    """The worker with the fewest chunks in flight per thread: each chunk is read and
    processed there, so no worker holds more chunks than its threads (a worker given two
    64 MB chunks at once held ~500 MB)."""
    threads = _threads(client)
    if not threads:
        return None
    busy = Counter(worker for _index, _future, worker in pending)
    return min(threads, key=lambda address: busy[address] / threads[address])


_END = object()


def chunk_count(value: Any) -> int | None:
    return int(value.npartitions) if is_dask_frame(value) else None


def _distributed(env: RunEnv, steps: tuple[Step, ...], frame: Any,
                 start: int) -> Iterator[tuple[int, list]]:
    pieces = frame.to_delayed()          # one optimized graph, one Delayed per partition
    client, total = get_client(), len(pieces)
    window = in_flight(client)
    pending: list = []
    following = start
    try:
        while following < total or pending:
            while following < total and len(pending) < window:
                worker = _least_busy(client, pending)
                where = {"workers": [worker], "allow_other_workers": True} if worker else {}
                part = client.compute(pieces[following], **where)
                pending.append((following, client.submit(
                    process_chunk, env, steps, following, part, total, pure=False, **where,
                    key=f"stream:{steps[0].task.plugin}:chunk-{following}-{env.run_id}"),
                    worker))
                following += 1
            index, future, _worker = pending.pop(0)
            with seceded():
                counts = future.result()
            yield index, counts
    finally:
        for _index, future, _worker in pending:
            future.cancel()


def _drawn(generator: Iterator[Any], start: int, box: queue.Queue, stop: threading.Event) -> None:
    try:
        for index, chunk in enumerate(generator):
            if stop.is_set():
                return
            if index >= start:          # chunks before the checkpoint: drawn and dropped
                box.put((index, chunk))
        box.put(_END)
    except BaseException as error:      # the producer's failure reaches the driver
        box.put(error)


def _generated(env: RunEnv, steps: tuple[Step, ...], generator: Iterator[Any],
               start: int) -> Iterator[tuple[int, list]]:
    box: queue.Queue = queue.Queue(maxsize=WINDOW)
    stop = threading.Event()
    threading.Thread(target=_drawn, args=(generator, start, box, stop), daemon=True,
                     name="dataflow-stream-source").start()
    try:
        while True:
            with seceded():
                item = box.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item[0], process_chunk(env, steps, item[0], item[1])
    finally:
        stop.set()
        while not box.empty():         # let a blocked put() finish so the thread ends
            box.get_nowait()


def processed(env: RunEnv, steps: tuple[Step, ...], source: Any,
              start: int = 0) -> Iterator[tuple[int, list]]:
    """(index, per-step counts) of every chunk from `start` on, in chunk order."""
    if is_dask_frame(source):
        return _distributed(env, steps, source, start)
    return _generated(env, steps, iter(source), start)
