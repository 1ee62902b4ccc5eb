"""The runs page's filter bar: pipeline, status, trigger and a time range (a preset such
as "last 24 hours", or from / to), read as a store `RunFilter`; the URL's query
arguments (?pipeline=default&status=failed) fill it in."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import panel as pn

from dataflow.statuses import RunStatus
from dataflow.store.run_views import RunFilter

ANY = "(any)"
TRIGGERS = ("api", "cli", "cron", "notebook", "resume", "schedule", "ui")
RANGES = {"all time": None, "last hour": timedelta(hours=1), "last 6 hours": timedelta(hours=6),
          "last 24 hours": timedelta(days=1), "last 7 days": timedelta(days=7),
          "last 30 days": timedelta(days=30)}


def _utc(value: datetime | date | None) -> datetime | None:
    """A DatetimeInput's value (a datetime, or None when empty) as an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, datetime):     # param.Date admits dates; the input gives none
        raise TypeError(f"expected a datetime, got {value!r}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class RunFilters:
    def __init__(self, pipelines: list[str], initial: dict | None = None):
        initial = initial or {}
        self.pipeline = pn.widgets.Select(label="Pipeline", options=[ANY, *pipelines],
                                          css_classes=["filter-pipeline"], width=150)
        self.status = pn.widgets.Select(label="Status", options=[ANY, *map(str, RunStatus)],
                                        css_classes=["filter-status"], width=170)
        self.trigger = pn.widgets.Select(label="Trigger", options=[ANY, *TRIGGERS],
                                         css_classes=["filter-trigger"], width=120)
        self.range = pn.widgets.Select(label="Started", options=list(RANGES),
                                       css_classes=["filter-range"], width=140)
        self.since = pn.widgets.DatetimeInput(label="From (UTC)", value=None, width=170,
                                              css_classes=["filter-since"])
        self.until = pn.widgets.DatetimeInput(label="To (UTC)", value=None, width=170,
                                              css_classes=["filter-until"])
        for widget, key in ((self.pipeline, "pipeline"), (self.status, "status"),
                            (self.trigger, "trigger")):
            if initial.get(key) in widget.options:
                widget.value = initial[key]

    @property
    def widgets(self) -> list:
        return [self.pipeline, self.status, self.trigger, self.range, self.since, self.until]

    def on_change(self, callback) -> None:
        for widget in self.widgets:
            widget.param.watch(lambda *_: callback(), "value")

    def current(self, now: datetime | None = None) -> RunFilter:
        """The filter as set now (a preset range counts back from `now`)."""
        now = now or datetime.now(timezone.utc)
        window = RANGES.get(self.range.value)
        since = _utc(self.since.value)
        if window is not None:
            since = max(since, now - window) if since else now - window
        pick = lambda widget: None if widget.value == ANY else widget.value  # noqa: E731
        return RunFilter(pipeline=pick(self.pipeline), status=pick(self.status),
                         trigger=pick(self.trigger), since=since, until=_utc(self.until.value))

    def view(self):
        return pn.Row(*self.widgets, sizing_mode="stretch_width")
