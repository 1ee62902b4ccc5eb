"""A run's log records with a level and a plugin filter, following the run live.

Records always come from the store (`tail_logs`, then `read_logs` after the last `seq`
shown); the run's log events only say up to which `seq` there is more to read, so a
burst of records costs one query per batch, and nothing is read while nothing is logged.
"""
from __future__ import annotations

import html

import panel as pn

from dashboards import formats
from dashboards.live import Pusher
from dataflow.store.logs import read_logs
from dataflow.store.run_views import tail_logs
from dataflow.log_levels import LEVELS, levels_at_least

ANY = "(all plugins)"
SHOWN = 500                # records on display at most (the newest)
RETRY = 0.3                # seconds before asking again when the store is behind the events
LEVEL_COLORS = {"DEBUG": "#888", "INFO": "#222", "WARNING": "#b26a00", "ERROR": "#c62828",
                "FATAL": "#7b1fa2"}


def record_html(record: dict) -> str:
    level = record.get("level", "")
    fields = record.get("fields") or {}
    extra = " ".join(f"{key}={value}" for key, value in fields.items())
    return (f'<div class="log-line log-{html.escape(level)}" style="color:'
            f'{LEVEL_COLORS.get(level, "#222")}">'
            f'{formats.when(record.get("time"))} {level:<7} '
            f'[{html.escape(record.get("plugin") or "")}] {html.escape(record.get("message", ""))}'
            f'{" <small>" + html.escape(extra) + "</small>" if extra else ""}</div>')


class LogView:
    def __init__(self, db, run_id: str, plugins: list[str], pusher: Pusher):
        self.db, self.run_id, self.pusher = db, run_id, pusher
        self.level = pn.widgets.Select(label="Level at least", options=list(LEVELS),
                                       value="DEBUG", css_classes=["log-level"], width=130)
        self.plugin = pn.widgets.Select(label="Plugin", options=[ANY, *plugins],
                                        css_classes=["log-plugin"], width=200)
        self.follow = pn.widgets.Checkbox(label="follow live", value=True,
                                          css_classes=["log-follow"])
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["logs"])
        self.records: list[dict] = []
        self.wanted = 0           # highest seq the events announced (matching the filter)
        self._retry_pending = False
        for widget in (self.level, self.plugin):
            widget.param.watch(lambda *_: self.reload(), "value")
        self.follow.param.watch(self._follow_changed, "value")

    def _follow_changed(self, event) -> None:
        if event.new:           # following again: catch up at once
            self.more()

    @property
    def levels(self) -> list[str]:
        return levels_at_least(self.level.value) or list(LEVELS)

    @property
    def plugin_filter(self) -> str | None:
        return None if self.plugin.value == ANY else self.plugin.value

    @property
    def last_seq(self) -> int:
        return self.records[-1]["seq"] if self.records else 0

    def reload(self) -> None:
        """The newest records for the filter (one query)."""
        self.records = tail_logs(self.db, self.run_id, self.plugin_filter, self.levels, SHOWN)
        self._render()

    def more(self) -> None:
        """Records after the last one shown (one query); asks again if the store is behind."""
        new = read_logs(self.db, self.run_id, self.plugin_filter, self.levels,
                        after_seq=self.last_seq, limit=SHOWN)
        if new:
            self.records = (self.records + new)[-SHOWN:]
            self._render()
        if self.last_seq < self.wanted and not self._retry_pending and self.follow.value:
            self._retry_pending = True
            self.pusher.later(RETRY, self._retry)

    def _retry(self) -> None:
        self._retry_pending = False
        self.more()

    def announce(self, events: list[dict]) -> None:
        """Log events of the run (seq, level, plugin): read what matches, if following."""
        levels, plugin = set(self.levels), self.plugin_filter
        seqs = [event["seq"] for event in events if event.get("kind") == "log"
                and event.get("level") in levels and plugin in (None, event.get("plugin"))]
        if not seqs:
            return
        self.wanted = max(self.wanted, *seqs)
        if self.follow.value:
            self.more()

    def _render(self) -> None:
        lines = "".join(record_html(record) for record in self.records)
        self.pane.object = (
            '<div class="log-box" style="font-family:monospace;font-size:12px;'
            'max-height:420px;overflow:auto;display:flex;flex-direction:column-reverse;'
            f'border:1px solid #ddd;padding:4px"><div>{lines or "<i>no log records</i>"}'
            '</div></div>')

    def view(self):
        return pn.Column(pn.Row(self.level, self.plugin, self.follow), self.pane,
                         sizing_mode="stretch_width")
