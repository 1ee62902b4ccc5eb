"""The machine, live: CPU, memory, workers, jobs queued / running, and a chart of the CPU
measured against the governor's target. Read from the engine's ResourceMonitor snapshot
(in memory, no query) once a second; nothing is sent while the figures stay the same."""
from __future__ import annotations

import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

HISTORY = 180          # seconds of CPU history on the chart
INDICATORS = (("cpu_percent", "CPU %", "{:.0f}"), ("memory_percent", "Memory %", "{:.0f}"),
              ("workers", "Workers", "{}"), ("jobs_queued", "Jobs queued", "{}"),
              ("jobs_running", "Jobs running", "{}"), ("cpu_target", "CPU target", "{:.0%}"),
              ("cpu_measured", "CPU measured", "{:.0%}"))


def snapshot_of(service) -> dict:
    """The monitor's figures; the configured CPU target when no governor runs, and the
    whole machine's CPU as the measured share when the governor does not measure it."""
    resources = getattr(service.engine, "resources", None)
    snapshot = resources.snapshot() if resources is not None else {}
    if not snapshot:
        return {}
    snapshot.setdefault("cpu_target", service.project.settings.cluster.cpu_target)
    if snapshot.get("cpu_measured") is None and snapshot.get("cpu_percent") is not None:
        snapshot["cpu_measured"] = snapshot["cpu_percent"] / 100
    return snapshot


def _shown(value, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _figures_html(snapshot: dict) -> str:
    cells = "".join(
        f'<div class="figure figure-{key}" style="display:inline-block;margin:0 18px 6px 0">'
        f'<div style="font-size:0.8em;color:#666">{label}</div>'
        f'<div class="figure-value" style="font-size:1.5em">'
        f'{_shown(snapshot.get(key), pattern)}</div></div>'
        for key, label, pattern in INDICATORS)
    return f'<div class="machine-figures">{cells}</div>'


def _cpu_chart(source: ColumnDataSource):
    chart = figure(height=160, sizing_mode="stretch_width", x_axis_type="datetime",
                   toolbar_location=None, title="CPU: measured vs target")
    chart.y_range = Range1d(start=0, end=1.05)
    chart.line("time", "measured", source=source, color="#1f77b4", legend_label="measured")
    chart.line("time", "target", source=source, color="#d62728", line_dash="dashed",
               legend_label="target")
    chart.legend.location = "top_left"
    chart.legend.label_text_font_size = "8pt"
    return chart


class MachineView:
    """The figures and the chart; `update()` is the session's 1 s callback."""

    def __init__(self, service):
        self.service = service
        self.figures = pn.pane.HTML(_figures_html({}), css_classes=["machine"],
                                    sizing_mode="stretch_width")
        self.source = ColumnDataSource({"time": [], "measured": [], "target": []})
        self.chart = pn.pane.Bokeh(_cpu_chart(self.source), sizing_mode="stretch_width")
        self._last_time = None
        self._last_html = ""

    def update(self) -> None:
        snapshot = snapshot_of(self.service)
        if not snapshot or snapshot.get("time") == self._last_time:
            return
        self._last_time = snapshot["time"]
        text = _figures_html(snapshot)
        if text != self._last_html:
            self.figures.object = self._last_html = text
        self.source.stream({"time": [snapshot["time"] * 1000.0],
                            "measured": [snapshot.get("cpu_measured")],
                            "target": [snapshot.get("cpu_target")]}, rollover=HISTORY)

    def view(self):
        return pn.Column(self.figures, self.chart, sizing_mode="stretch_width")
