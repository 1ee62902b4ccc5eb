"""Runs: the history, filtered (pipeline, status, trigger, time range) and paged on the
server (keyset paging on `started`: Newer / Older), with the bulk actions on the current
filter — cancel every running run that matches, resume every failed one — and a pick of
two runs to compare.

One query per view and refresh: the page of runs (light fields only), when the page
opens, when the filter or page changes and when the LiveHub says runs changed."""
from __future__ import annotations

import html

import panel as pn

from dashboards import formats
from dashboards.site import Site, session_arg
from dashboards.widgets.bulk import BulkActions
from dashboards.widgets.run_filters import RunFilters
from dataflow.store import run_views

PAGE_SIZE = 25
ERROR_CHARS = 120
COLUMNS = ("run", "pipeline", "status", "trigger", "started (UTC)", "duration", "tasks",
           "error")


def _row_html(site: Site, run: dict) -> str:
    error = run.get("error") or ""
    error = error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "…"
    resumed = ""
    if run.get("resumed_from"):
        resumed = " <small>resumes " + site.link("run", formats.short_id(run["resumed_from"]),
                                                 id=run["resumed_from"]) + "</small>"
    cells = (site.link("run", formats.short_id(run["_id"]), css="run-link", id=run["_id"])
             + resumed, html.escape(run.get("pipeline", "")), formats.badge(run.get("status")),
             html.escape(run.get("trigger") or ""), formats.when(run.get("started")),
             formats.duration(run.get("duration")), formats.counts_text(run.get("counts")),
             f"<small>{html.escape(error)}</small>")
    return (f'<tr class="run-row" data-run="{html.escape(run["_id"])}">'
            + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")


def runs_table_html(site: Site, runs: list[dict]) -> str:
    if not runs:
        return '<p class="no-runs"><i>No runs match.</i></p>'
    head = "".join(f"<th style='text-align:left'>{name}</th>" for name in COLUMNS)
    body = "".join(_row_html(site, run) for run in runs)
    return (f'<table class="runs-table" style="border-collapse:collapse;width:100%">'
            f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            '<style>.runs-table td{padding:3px 8px;border-bottom:1px solid #eee}</style>')


def _run_label(run: dict) -> str:
    return (f"{formats.short_id(run['_id'])} · {run.get('pipeline')} · {run.get('status')} · "
            f"{formats.when(run.get('started'))}")


class RunsView:
    def __init__(self, site: Site, initial: dict | None = None):
        self.site = site
        self.filters = RunFilters(list(site.project.pipelines), initial)
        self.table = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["runs"])
        self.cursors: list = [None]
        self.rows: list[dict] = []
        self.older = pn.widgets.Button(label="Older →", css_classes=["page-older"], width=100)
        self.newer = pn.widgets.Button(label="← Newer", css_classes=["page-newer"], width=100)
        self.page_label = pn.pane.HTML("", css_classes=["page-label"])
        self.older.on_click(lambda *_: self.go(+1))
        self.newer.on_click(lambda *_: self.go(-1))
        self.bulk = BulkActions(site, self.filters.current, after=self.refresh)
        self.pick_a = pn.widgets.Select(label="Run A", options={}, css_classes=["compare-a"])
        self.pick_b = pn.widgets.Select(label="Run B", options={}, css_classes=["compare-b"])
        self.compare_link = pn.pane.HTML("", css_classes=["compare-link"])
        self.open_button = pn.widgets.Button(label="Open run A", visible=site.inline)
        self.open_button.on_click(lambda *_: site.open_run and self.pick_a.value
                                  and site.open_run(self.pick_a.value))
        for pick in (self.pick_a, self.pick_b):
            pick.param.watch(lambda *_: self._update_compare_link(), "value")
        self.filters.on_change(self.reset)
        site.watch_runs(self.refresh)
        self.refresh()

    def reset(self) -> None:
        self.cursors = [None]
        self.refresh()

    def go(self, step: int) -> None:
        if step > 0 and len(self.rows) > PAGE_SIZE:
            self.cursors.append(self.rows[PAGE_SIZE - 1]["started"])
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
        self.refresh()

    def refresh(self) -> None:
        """The current page: one query (one row more than shown, to know about Older)."""
        self.rows = run_views.runs_page(self.site.db, self.filters.current(),
                                        before=self.cursors[-1], limit=PAGE_SIZE + 1)
        shown = self.rows[:PAGE_SIZE]
        text = runs_table_html(self.site, shown)
        if self.table.object != text:
            self.table.object = text
        self.older.disabled = len(self.rows) <= PAGE_SIZE
        self.newer.disabled = len(self.cursors) == 1
        self.page_label.object = f"page {len(self.cursors)} · {len(shown)} runs"
        options = {_run_label(run): run["_id"] for run in shown}
        for index, pick in enumerate((self.pick_a, self.pick_b)):
            value = pick.value
            pick.options = options
            ids = list(options.values())
            pick.value = value if value in ids else (ids[index] if len(ids) > index else None)

    def _update_compare_link(self) -> None:
        a, b = self.pick_a.value, self.pick_b.value
        if not (a and b) or self.site.inline:
            self.compare_link.object = ""
            return
        self.compare_link.object = self.site.link("compare", "Compare these two runs",
                                                  css="compare-go", a=a, b=b)

    def view(self):
        paging = pn.Row(self.newer, self.older, self.page_label)
        compare = pn.Card(pn.Row(self.pick_a, self.pick_b), self.compare_link,
                          self.open_button, title="Compare / open", collapsed=False,
                          sizing_mode="stretch_width")
        return pn.Column(self.filters.view(), self.bulk.view(), paging, self.table,
                         compare, sizing_mode="stretch_width")


def runs_page(site: Site):
    initial = {key: session_arg(key) for key in ("pipeline", "status", "trigger")}
    return site.shell("Runs", RunsView(site, initial).view())
