"""The context of a streamed plugin's `run_chunk(context, config, chunk)`.

The usual context, plus `context["stream"]`: which chunk this is and the row tally the
plugin adds to — `context["stream"].failed(n)` for rows it could not process and
`context["stream"].skipped(n)` for rows it left out on purpose. Rows done are counted
by dataflow (the rows of each chunk handed to the plugin).
"""
from __future__ import annotations

from dataclasses import dataclass

from dataflow.model import RunEnv
from dataflow.worker.context import DEPRECATED, KEYS, Context


@dataclass
class RowTally:
    """Rows of one streamed task: done (handed to it), failed and skipped (it says so)."""

    done: int = 0
    failed_rows: int = 0
    skipped_rows: int = 0
    chunk: int = -1                 # index of the chunk being processed
    chunks_done: int = 0
    chunks_total: int | None = None
    rows_total: int | None = None

    def failed(self, rows: int = 1) -> None:
        self.failed_rows += int(rows)

    def skipped(self, rows: int = 1) -> None:
        self.skipped_rows += int(rows)

    def progress(self) -> dict:
        """The progress fields of events and task records."""
        return {"rows_done": self.done, "rows_total": self.rows_total,
                "rows_failed": self.failed_rows, "rows_skipped": self.skipped_rows,
                "chunks_done": self.chunks_done, "chunks_total": self.chunks_total}

    def restore(self, saved: dict) -> None:
        self.done, self.chunks_done = saved.get("rows_done", 0), saved.get("chunks_done", 0)
        self.failed_rows = saved.get("rows_failed", 0)
        self.skipped_rows = saved.get("rows_skipped", 0)


class StreamContext(Context):
    """Context with "stream": the RowTally of this task."""

    def __init__(self, env: RunEnv, hook: str, plugin: str, inputs: dict, tally: RowTally):
        super().__init__(env, hook, plugin, inputs)
        self._tally = tally

    def __reduce__(self):
        return (StreamContext, (self._env, self._hook, self._plugin, self._inputs, self._tally))

    def __getitem__(self, key: str):
        if key == "stream":
            return self._tally
        return super().__getitem__(key)

    def __iter__(self):
        return iter((*KEYS, *DEPRECATED, "stream"))

    def __len__(self) -> int:
        return len(KEYS) + len(DEPRECATED) + 1
