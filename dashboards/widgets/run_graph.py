"""A run's hooks and plugins as a graph, coloured by status: one column per hook (in
order), one box per plugin task, an arrow from each task of a hook to each task of the
next (Dask runs hook n+1 on hook n's outcomes). Live: `update(model)` recolours it."""
from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from dashboards import formats

BOX_W, BOX_H = 0.7, 0.6


def graph_data(hooks: list[str], tasks: dict[str, dict]) -> tuple[dict, dict]:
    """(nodes, edges) column data for the hooks and their tasks."""
    by_hook: dict[str, list[tuple[str, dict]]] = {hook: [] for hook in hooks}
    for key, task in tasks.items():
        by_hook.setdefault(task["hook"], []).append((key, task))
    nodes: dict[str, list[Any]] = {
        k: [] for k in ("x", "y", "task", "plugin", "hook", "status", "color", "took")}
    places: list[list[tuple[float, float]]] = []
    for column, hook in enumerate(by_hook):
        entries = by_hook[hook] or [(f"{hook}.(no plugins)", {"hook": hook, "plugin": "–"})]
        column_places: list[tuple[float, float]] = []
        for row, (key, task) in enumerate(entries):
            y = (len(entries) - 1) / 2 - row
            status = task.get("status", "")
            values = (column, y, key, task["plugin"], hook, str(status),
                      formats.status_color(status), formats.duration(task.get("duration")))
            for name, value in zip(nodes, values):
                nodes[name].append(value)
            column_places.append((column, y))
        places.append(column_places)
    edges: dict[str, list[float]] = {"x0": [], "y0": [], "x1": [], "y1": []}
    for left, right in zip(places, places[1:]):
        for x0, y0 in left:
            for x1, y1 in right:
                for name, value in zip(edges, (x0 + BOX_W / 2, y0, x1 - BOX_W / 2, y1)):
                    edges[name].append(value)
    return nodes, edges


class RunGraph:
    def __init__(self):
        self.nodes = ColumnDataSource(graph_data([], {})[0])
        self.edges = ColumnDataSource(graph_data([], {})[1])
        self.x_range = Range1d(start=-0.6, end=0.6)
        self.y_range = Range1d(start=-0.6, end=0.6)
        self.plot = figure(height=220, sizing_mode="stretch_width", toolbar_location=None,
                           title="Hooks and plugins", x_range=self.x_range,
                           y_range=self.y_range)
        self.plot.segment("x0", "y0", "x1", "y1", source=self.edges, color="#999")
        boxes = self.plot.rect("x", "y", BOX_W, BOX_H, source=self.nodes, fill_color="color",
                               line_color="#333")
        self.plot.text("x", "y", text="plugin", source=self.nodes, text_align="center",
                       text_baseline="middle", text_font_size="9pt", text_color="white")
        self.plot.add_tools(HoverTool(renderers=[boxes], tooltips=[
            ("task", "@task"), ("status", "@status"), ("took", "@took")]))
        self.plot.axis.visible = self.plot.grid.visible = False
        self.pane = pn.Column(pn.pane.Bokeh(self.plot, sizing_mode="stretch_width"),
                              sizing_mode="stretch_width", css_classes=["run-graph"])

    def update(self, hooks: list[str], tasks: dict[str, dict]) -> None:
        nodes, edges = graph_data(hooks, tasks)
        if nodes != dict(self.nodes.data):
            self.nodes.data = nodes
        if edges != dict(self.edges.data):
            self.edges.data = edges
        columns = max(nodes["x"], default=0) + 1
        rows = max((abs(y) for y in nodes["y"]), default=0)
        bounds = ((self.x_range, -0.6, columns - 0.4),
                  (self.y_range, -rows - 0.6, rows + 0.6))
        for axis_range, start, end in bounds:
            if (axis_range.start, axis_range.end) != (start, end):
                axis_range.update(start=start, end=end)
