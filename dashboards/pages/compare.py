"""Compare two runs side by side (/compare?a=RUN&b=RUN, ids or unique prefixes): status and
duration of each run, per task status, duration and outcome, the config and plugin-version
differences, and each run's first error. Two queries a run (`get_run`), once."""
from __future__ import annotations

import html
import json

import panel as pn

from dashboards import formats
from dashboards.compare import MISSING, TaskPair, compare_runs, first_error
from dashboards.site import Site, session_arg
from dataflow.errors import DataflowError
from dataflow.store.history import get_run

DIFFERS = "background:#fff3cd"


def _value(value) -> str:
    return "<i>unset</i>" if value is MISSING else html.escape(json.dumps(value, default=str))


def _task_cell(task: dict | None) -> str:
    if task is None:
        return "<i>not in this run</i>"
    error = task.get("error")
    return (f"{formats.badge(task.get('status'))} {formats.duration(task.get('duration'))}"
            f"{'<br><small>' + html.escape(str(error)) + '</small>' if error else ''}")


def _task_row(pair: TaskPair) -> str:
    change = pair.duration_change
    delta = "" if change is None else f"{change:+.2f} s"
    versions = "".join(
        f"<div>{side}: {html.escape(str((task or {}).get('plugin_version', '–')))} "
        f"<code>{html.escape(((task or {}).get('source_hash') or '')[:8])}</code></div>"
        for side, task in (("A", pair.a), ("B", pair.b)))
    configs = "".join(f"<div><code>{html.escape(key)}</code>: {_value(first)} → {_value(second)}"
                      f"</div>" for key, first, second in pair.config_changes)
    style = f' style="{DIFFERS}"' if pair.status_differs else ""
    version_style = f' style="{DIFFERS}"' if pair.version_differs else ""
    return (f'<tr class="compare-row" data-task="{html.escape(pair.task)}"><td><code>'
            f'{html.escape(pair.task)}</code></td><td{style}>{_task_cell(pair.a)}</td>'
            f'<td{style}>{_task_cell(pair.b)}</td><td>{delta}</td>'
            f'<td{version_style}>{versions}</td><td class="config-diff">'
            f'{configs or "<i>same</i>"}</td></tr>')


def _run_cell(site: Site, run: dict) -> str:
    error = first_error(run)
    first = (f"<div class='first-error' style='color:#c62828'>first error ({html.escape(error[0])})"
             f": {html.escape(error[1])}</div>") if error else "<div><i>no error</i></div>"
    return (f"{site.link('run', formats.short_id(run['_id']), id=run['_id'])} "
            f"{html.escape(run.get('pipeline', ''))} {formats.badge(run.get('status'))}<br>"
            f"started {formats.when(run.get('started'))} UTC · took "
            f"{formats.duration(run.get('duration'))} · {html.escape(run.get('trigger') or '')}"
            f"{first}")


def compare_html(site: Site, a: dict, b: dict) -> str:
    head = (f"<table class='compare-runs' style='width:100%'><tr><th>A</th><th>B</th></tr>"
            f"<tr><td class='run-a'>{_run_cell(site, a)}</td><td class='run-b'>"
            f"{_run_cell(site, b)}</td></tr></table>")
    rows = "".join(_task_row(pair) for pair in compare_runs(a, b))
    titles = "".join(f"<th style='text-align:left'>{name}</th>" for name in (
        "task", "A", "B", "duration B − A", "plugin versions", "config A → B"))
    return (f"{head}<h3>Tasks</h3><table class='compare-tasks' style='width:100%;"
            f"border-collapse:collapse'><tr>{titles}</tr>{rows}</table>"
            "<style>.compare-tasks td{padding:3px 8px;border-bottom:1px solid #eee;"
            "vertical-align:top}</style>")


class ComparePage:
    def __init__(self, site: Site, a: str | None = None, b: str | None = None):
        self.site = site
        self.a = pn.widgets.TextInput(label="Run A", value=a or "", css_classes=["compare-input-a"])
        self.b = pn.widgets.TextInput(label="Run B", value=b or "", css_classes=["compare-input-b"])
        self.button = pn.widgets.Button(label="Compare", color="primary",
                                        css_classes=["compare-button"])
        self.result = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["comparison"])
        self.button.on_click(lambda *_: self.compare())
        if a and b:
            self.compare()

    def compare(self) -> None:
        ids = ((self.a.value or "").strip(), (self.b.value or "").strip())
        if not all(ids):
            self.result.object = "<p class='compare-error'>Give two run ids.</p>"
            return
        try:
            first, second = (get_run(self.site.db, run_id) for run_id in ids)
        except DataflowError as error:
            self.result.object = f"<p class='compare-error'>{html.escape(str(error))}</p>"
            return
        self.result.object = compare_html(self.site, first, second)

    def view(self):
        return pn.Column(pn.Row(self.a, self.b, self.button), self.result,
                         sizing_mode="stretch_width")


def compare_page(site: Site):
    return site.shell("Compare runs",
                      ComparePage(site, session_arg("a"), session_arg("b")).view())
