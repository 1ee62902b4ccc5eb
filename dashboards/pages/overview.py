"""Overview: every pipeline (hooks, schedule, last run, next run, its last 20 runs at a
glance, a trigger button), triggering with options, the machine live, and the Dask
dashboard linked with its task stream embedded.

Queries: the last runs of each pipeline, when the page opens and when runs change
(the LiveHub says so); the machine figures come from memory once a second."""
from __future__ import annotations

import html
from datetime import datetime, timezone

import panel as pn

from dashboards import actions, formats
from dashboards.site import Messages, Site
from dashboards.widgets.machine import MachineView
from dashboards.widgets.trigger_form import TriggerForm, show
from dataflow.schedule.cron import next_fire_times
from dataflow.store.run_views import recent_by_pipeline

MACHINE_REFRESH = 2.0     # seconds between the machine figures' refreshes (each one is
                          # pushed to every open overview; 1 s cost ~1% of a core idle)

RECENT = 20


def next_run(pipeline, now: datetime) -> str:
    """When a scheduled pipeline fires next ("" when it has no schedule)."""
    if not pipeline.schedule:
        return ""
    if not getattr(pipeline, "enabled", True) or getattr(pipeline, "paused", False):
        return "paused"
    try:
        fire = next_fire_times(pipeline.schedule, getattr(pipeline, "timezone", None) or "UTC",
                               now, count=1)
    except Exception as error:          # a schedule the scheduler would refuse too
        return f"invalid schedule: {error}"
    return f"{formats.when(fire[0])} UTC" if fire else "never"


def _last_run(site: Site, runs: list[dict]) -> str:
    if not runs:
        return "never run"
    last = runs[0]
    link = site.link("run", formats.short_id(last["_id"]), css="last-run-link", id=last["_id"])
    took = formats.duration(last.get("duration")) if last.get("duration") is not None else ""
    return (f'{formats.badge(last.get("status"))} {link} started '
            f'{formats.when(last.get("started"))} UTC{" · took " + took if took else ""}')


def pipeline_html(site: Site, pipeline, runs: list[dict], now: datetime) -> str:
    """One pipeline's block: hooks, schedule, last / next run, the strip of recent runs."""
    name = html.escape(pipeline.name)
    hooks = " → ".join(html.escape(hook) for hook in pipeline.hooks)
    schedule = html.escape(pipeline.schedule or "no schedule")
    upcoming = next_run(pipeline, now)
    oldest_first = runs[::-1]
    links = [site.href("run", id=run["_id"]) for run in oldest_first]
    strip = formats.strip([run.get("status") for run in oldest_first],
                          links if not site.inline else None)
    runs_link = site.link("runs", "history", css="history-link", pipeline=pipeline.name)
    return (f'<div class="pipeline pipeline-{name}" style="line-height:1.6">'
            f'<b style="font-size:1.1em">{name}</b> '
            f'<small>{html.escape(pipeline.description or "")}</small><br>'
            f'<small>hooks:</small> {hooks} · <small>schedule:</small> {schedule}'
            f'{" · <small>next:</small> " + html.escape(upcoming) if upcoming else ""}<br>'
            f'<small>last run:</small> <span class="last-run">{_last_run(site, runs)}</span><br>'
            f'<small>last {RECENT}:</small> <span class="strip">{strip}</span> {runs_link}'
            f'</div>')


def dask_section(url: str | None):
    if not url:
        return pn.pane.HTML("<i>No Dask dashboard (bokeh missing or disabled).</i>")
    base = url[: -len("/status")] if url.endswith("/status") else url.rstrip("/")
    src = html.escape(f"{base}/individual-task-stream")
    return pn.Column(
        pn.pane.HTML(f'<a class="dask-link" href="{html.escape(url)}" target="_blank">'
                     f'Open the Dask dashboard</a> <small>({html.escape(url)})</small>'),
        pn.pane.HTML(f'<iframe class="task-stream" src="{src}" title="Dask task stream" '
                     f'style="width:100%;height:320px;border:1px solid #ddd"></iframe>',
                     sizing_mode="stretch_width"),
        sizing_mode="stretch_width")


class Overview:
    def __init__(self, site: Site):
        self.site = site
        self.pipelines = site.project.pipelines
        self.blocks = {name: pn.pane.HTML("", sizing_mode="stretch_width")
                       for name in self.pipelines}
        self.messages = Messages()
        self.buttons = {name: self._button(name) for name in self.pipelines}
        self.trigger_form = TriggerForm(site, list(self.pipelines))
        self.machine = MachineView(site.service)
        site.watch_runs(self.refresh)
        self.refresh()
        self.machine.update()
        site.every(MACHINE_REFRESH, self.machine.update)

    def _button(self, name: str):
        button = pn.widgets.Button(label=f"Trigger {name}", color="primary", width=170,
                                   css_classes=["trigger", f"trigger-{name}"])

        def clicked(*_: object) -> None:
            self.trigger(name)      # the outcome shows in the messages
        button.on_click(clicked)
        return button

    def trigger(self, name: str) -> actions.Outcome:
        outcome = actions.trigger(self.site.service, name)
        show(self.site, self.messages, outcome)
        return outcome

    def refresh(self) -> None:
        """One read of every pipeline's recent runs; blocks re-drawn only if changed."""
        recent = recent_by_pipeline(self.site.db, list(self.pipelines), RECENT)
        now = datetime.now(timezone.utc)
        for name, pipeline in self.pipelines.items():
            text = pipeline_html(self.site, pipeline, recent.get(name, []), now)
            if self.blocks[name].object != text:
                self.blocks[name].object = text

    def view(self):
        rows = [pn.Row(self.blocks[name], self.buttons[name], sizing_mode="stretch_width",
                       styles={"border-bottom": "1px solid #eee"})
                for name in self.pipelines]
        return pn.Column(
            pn.pane.HTML("<h3>Pipelines</h3>"), *rows, self.messages.pane,
            self.trigger_form.view(),
            pn.pane.HTML("<h3>Machine</h3>"), self.machine.view(),
            pn.pane.HTML("<h3>Dask</h3>"), dask_section(self.site.web.dask_dashboard),
            sizing_mode="stretch_width")


def overview_page(site: Site):
    return site.shell("Overview", Overview(site).view())
