"""One run (/run?id=<run id or a unique prefix>): its summary and first error, its hooks
and plugins as a graph coloured by status, a timeline (Gantt) of its tasks, job progress
per plugin, timings, errors and tracebacks, the config and plugin versions it used, and
its logs with a level and plugin filter — all following the run live while it runs.

How it stays live without polling the store per event:
* a run of this process: its events (task started / finished, progress, log) come from
  the RunService listener through the LiveHub and are applied in memory (logs: read
  after the last seq shown);
* a run orchestrated elsewhere (CLI, another server): re-read once a second while it runs;
* either way, when the LiveHub sees its status change (it ended), it is read once more.
"""
from __future__ import annotations

import html

import panel as pn

from dashboards.run_model import RunModel
from dashboards.site import Site, session_arg
from dashboards.widgets.gantt import Gantt
from dashboards.widgets.log_view import LogView
from dashboards.widgets.run_actions import RunActions
from dashboards.widgets.run_details import config_html, summary_html, tasks_html
from dashboards.widgets.run_graph import RunGraph

FOREIGN_POLL = 1.0       # seconds between reads of a run orchestrated by another process


class RunPage:
    def __init__(self, site: Site, model: RunModel, seen=None):
        self.site, self.model = site, model
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.graph, self.gantt = RunGraph(), Gantt()
        self.tasks = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["tasks"])
        self.config = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["config"])
        self.actions = RunActions(site, model, after=self.reload)
        self.logs = LogView(site.db, model.run_id, model.plugins(), site.pusher)
        self.poller = self.ticker = None
        self.render(with_config=True)
        self.logs.reload()
        if model.running:
            self._go_live()
        site.watch_runs(self.on_runs_changed, seen)

    def _go_live(self) -> None:
        """Follow the run's events if it runs here; else read it once a second."""
        if self.site.hub.has_events(self.model.run_id):
            self.site.follow_run(self.model.run_id, self.on_events)
            if self.ticker is None:        # running bars grow between events (no query)
                self.ticker = self.site.every(1.0, self.tick)
        elif self.poller is None:
            self.poller = self.site.every(FOREIGN_POLL, self.poll)

    def on_events(self, events: list[dict]) -> None:
        if self.model.apply(events):
            self.render()
        self.logs.announce(events)

    def on_runs_changed(self) -> None:
        """Runs changed somewhere: read this run again only if its status did."""
        seen = dict(self.site.hub.marker or ()).get(self.model.run_id)
        status = self.model.run.get("status")
        if seen != status and (seen is not None or self.model.running):
            self.reload()

    def tick(self) -> None:
        if self.model.running:
            self.gantt.update(self.model.tasks)
        elif self.ticker is not None:
            self.ticker.stop()
            self.ticker = None

    def poll(self) -> None:
        self.reload()
        if not self.model.running and self.poller is not None:
            self.poller.stop()
            self.poller = None

    def reload(self) -> None:
        """Read the run and its tasks again (two queries), then any new log records."""
        was_running = self.model.running
        self.model.load()
        self.render(with_config=True)
        self.logs.more()
        if self.model.running and not was_running:
            self._go_live()

    def render(self, with_config: bool = False) -> None:
        model = self.model
        self.summary.object = summary_html(self.site, model)
        self.graph.update(model.hooks, model.tasks)
        self.gantt.update(model.tasks)
        self.tasks.object = tasks_html(model)
        if with_config:
            self.config.object = config_html(model)
        self.actions.update()

    def view(self):
        return pn.Column(
            self.summary, self.actions.view(),
            pn.Row(self.graph.pane, self.gantt.pane, sizing_mode="stretch_width"),
            pn.pane.HTML("<h3>Tasks</h3>"), self.tasks,
            pn.pane.HTML("<h3>Logs</h3>"), self.logs.view(),
            pn.pane.HTML("<h3>Config and plugin versions</h3>"), self.config,
            sizing_mode="stretch_width")


def run_view(site: Site, run_id: str | None):
    """The run page's body for `run_id` (a message when there is no such run)."""
    if not run_id:
        return pn.pane.HTML("<p class='no-run'>Give a run: /run?id=RUN_ID "
                            f"(see {site.link('runs', 'the runs')}).</p>")
    model = RunModel(site.db, run_id)
    seen = site.hub.marker            # before the read: a change after it is reported
    if not model.load():
        return pn.pane.HTML(f"<p class='no-run'>No run {html.escape(run_id)} "
                            f"(see {site.link('runs', 'the runs')}).</p>")
    return RunPage(site, model, seen).view()


def run_page(site: Site):
    run_id = session_arg("id")
    title = f"Run {run_id[:8]}" if run_id else "Run"
    return site.shell(title, run_view(site, run_id))
