"""How the pages write statuses, times, durations and ids (plain text and small HTML)."""
from __future__ import annotations

import html
from datetime import datetime, timezone

from dataflow.statuses import RunStatus, TaskStatus

STATUS_COLORS = {
    RunStatus.COMPLETED: "#2e9e44", RunStatus.COMPLETED_WITH_ERRORS: "#e69500",
    RunStatus.FAILED: "#d62728", RunStatus.CANCELLED: "#7f7f7f",
    RunStatus.INTERRUPTED: "#8c564b", RunStatus.RUNNING: "#1f77b4",
    TaskStatus.PENDING: "#c7c7c7", TaskStatus.SKIPPED: "#b8b8d0",
    TaskStatus.TIMED_OUT: "#9467bd",
}
UNKNOWN_COLOR = "#999999"


def status_color(status) -> str:
    return STATUS_COLORS.get(status, UNKNOWN_COLOR)


def short_id(run_id: str | None) -> str:
    return (run_id or "")[:8]


def as_utc(value) -> datetime | None:
    """A datetime (or epoch seconds) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def when(value) -> str:
    moment = as_utc(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration(seconds, coarse: bool = False) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if coarse else f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" if coarse else f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def badge(status) -> str:
    """A coloured status label (HTML)."""
    text = html.escape(str(status or "unknown"))
    return (f'<span class="status status-{text}" style="background:{status_color(status)};'
            f'color:white;padding:1px 6px;border-radius:8px;font-size:0.85em">{text}</span>')


def strip(statuses, links=None) -> str:
    """Small squares, one per run (oldest left), coloured by status (HTML)."""
    cells = []
    for index, status in enumerate(statuses):
        title = html.escape(str(status))
        square = (f'<span title="{title}" class="run-cell" style="display:inline-block;'
                  f'width:10px;height:14px;margin-right:2px;background:{status_color(status)}">'
                  f'</span>')
        href = links[index] if links else None
        cells.append(f'<a href="{html.escape(href)}">{square}</a>' if href else square)
    return "".join(cells)


def counts_text(counts: dict | None) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted((counts or {}).items()))
