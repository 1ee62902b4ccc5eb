"""A run's tasks on a timeline (Gantt): one bar per task from its start to its end (to
now while it runs), coloured by status, in hook order top to bottom."""
from __future__ import annotations

import time

import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure

from dashboards import formats

FIELDS = ("task", "start", "end", "status", "color", "took", "worker")


def gantt_data(tasks: dict[str, dict], now: float | None = None) -> dict:
    now = now or time.time()
    data: dict[str, list] = {name: [] for name in FIELDS}
    for key, task in tasks.items():
        started = formats.as_utc(task.get("started"))
        if started is None:
            continue
        finished = formats.as_utc(task.get("finished"))
        end = finished.timestamp() if finished else now
        values = (key, started.timestamp() * 1000, end * 1000, str(task.get("status", "")),
                  formats.status_color(task.get("status")), formats.duration(
                      task.get("duration") if finished else end - started.timestamp()),
                  task.get("worker") or "")
        for name, value in zip(FIELDS, values):
            data[name].append(value)
    return data


class Gantt:
    def __init__(self):
        self.source = ColumnDataSource(gantt_data({}))
        self.y_range = FactorRange(factors=[])      # what figure(y_range=[]) makes
        self.plot = figure(height=200, sizing_mode="stretch_width", x_axis_type="datetime",
                           y_range=self.y_range, toolbar_location=None, title="Timeline")
        bars = self.plot.hbar(y="task", left="start", right="end", height=0.6,
                              source=self.source, fill_color="color", line_color="#333")
        self.plot.add_tools(HoverTool(renderers=[bars], tooltips=[
            ("task", "@task"), ("status", "@status"), ("took", "@took"), ("worker", "@worker")]))
        self.pane = pn.Column(pn.pane.Bokeh(self.plot, sizing_mode="stretch_width"),
                              sizing_mode="stretch_width", css_classes=["run-gantt"])

    def update(self, tasks: dict[str, dict]) -> None:
        data = gantt_data(tasks)
        factors = list(reversed(list(tasks)))
        if list(self.y_range.factors) != factors:
            self.y_range.factors = factors
            self.plot.height = max(120, 40 + 28 * len(factors))
        if data != dict(self.source.data):
            self.source.data = data
