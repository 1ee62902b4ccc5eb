"""Live progress of a run in the terminal: one row per (hook, plugin) task."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from dataflow.outputs import describe_rows
from dataflow.cli.common import console, seconds, styled
from dataflow.statuses import TaskStatus
from dataflow.store.bounds import console_text

if TYPE_CHECKING:
    from dataflow.model import RunPlan


PROGRESS_LINE_EVERY = 1.0     # seconds between job-progress lines when not on a terminal


class ProgressView:
    """Follows task events; a live table on a terminal, one line per change otherwise."""

    def __init__(self, plan: RunPlan, live: bool | None = None,
                 resources: Callable[[], dict] | None = None):
        self.rows: dict[str, dict[str, Any]] = {t.task_id: {"hook": t.hook, "plugin": t.plugin, "status": TaskStatus.PENDING,
                                 "started": None, "duration": None, "jobs": ""} for t in plan.tasks}
        self.live_mode = console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._live: Live | None = None
        self.resources = resources     # callable returning the monitor's snapshot

    def table(self) -> Table:
        table = Table(show_edge=False, pad_edge=False, caption=self._caption())
        for column in ("hook", "plugin", "status", "duration", "jobs"):
            table.add_column(column)
        now = time.time()
        with self._lock:
            for row in self.rows.values():
                duration = row["duration"]
                if duration is None and row["started"]:
                    duration = now - row["started"]
                table.add_row(row["hook"], row["plugin"], styled(row["status"]),
                              seconds(duration), row["jobs"])
        return table

    def _caption(self) -> str:
        snap = self.resources() if self.resources else {}
        if not snap:
            return ""
        queued, running = snap.get("jobs_queued"), snap.get("jobs_running")
        text = (f"CPU {snap['cpu_percent']:.0f}% · memory {snap['memory_percent']:.0f}% · "
                f"workers {snap['workers']} · jobs {queued} queued / {running} running")
        return text + (f" · duty {snap['duty']:.2f}" if "duty" in snap else "")

    def __call__(self, event: dict) -> None:
        kind, task_id = event.get("kind"), event.get("task_id", "")
        if kind == "log":
            self._echo(event)
            return
        if task_id not in self.rows:
            return
        if kind == "progress":
            self._progress(task_id, event)
            return
        if kind not in ("task_started", "task_finished"):
            return
        with self._lock:
            row = self.rows[task_id]
            if kind == "task_started":
                row.update(status=TaskStatus.RUNNING, started=event.get("started"))
            else:
                started, finished = event.get("started"), event.get("finished")
                reused = {"checkpoint": " (restored)", "cache": " (cached)",
                          "marked_success": " (marked)"}.get(event.get("reused", ""), "")
                row.update(status=event["status"] + reused,
                           duration=finished - started if started and finished else None)
        if self._live is not None:
            self._live.update(self.table())
        elif not self.live_mode:
            self._line(row, event)

    def _progress(self, task_id: str, event: dict) -> None:
        """Jobs done/total: in the table, or a line at most every PROGRESS_LINE_EVERY s."""
        with self._lock:
            row = self.rows[task_id]
            row["jobs"] = describe_rows(event) or f"{event['done']}/{event['total']}"
            now = time.monotonic()
            due = not self.live_mode and now - row.get("printed", 0.0) >= PROGRESS_LINE_EVERY
            if due:
                row["printed"] = now
        if due and event["done"] < event["total"]:
            caption = self._caption()
            what = "" if "rows_done" in event else "jobs "      # a stream: rows, chunks
            console.print(f"{row['hook']:<22} {row['plugin']:<22} {what}{row['jobs']}"
                          + (f"  ({caption})" if caption else ""), soft_wrap=True)

    def _echo(self, record: dict) -> None:
        """A plugin's log record, above the live table (or between the progress lines)."""
        style = {"WARNING": "yellow", "ERROR": "red", "FATAL": "bold red"}.get(record["level"])
        text = f"{record['level']:<7} {record.get('plugin')}: {console_text(record['message'])}"
        console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), soft_wrap=True)

    def _line(self, row: dict, event: dict) -> None:
        text = f"{row['hook']:<22} {row['plugin']:<22} {styled(row['status'])}"
        if row["duration"] is not None:
            text += f" {seconds(row['duration'])}"
        if row["jobs"]:
            text += f"  {'' if row['jobs'].startswith('rows') else 'jobs '}{row['jobs']}"
        if event.get("error") and row["status"] != TaskStatus.COMPLETED:
            text += f"  {console_text(event['error'])}"
        console.print(text, soft_wrap=True)

    def __enter__(self) -> ProgressView:
        if self.live_mode:
            self._live = Live(self.table(), console=console, refresh_per_second=4,
                              get_renderable=self.table)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
