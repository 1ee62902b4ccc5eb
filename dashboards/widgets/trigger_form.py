"""Trigger a pipeline with options: only some of its plugins, and a one-off config override
as JSON ({plugin: {field: value}}), validated against the plugins' schemas before anything
starts. The result (a link to the new run, or why it was refused) shows under the form."""
from __future__ import annotations

import panel as pn

from dashboards import actions
from dashboards.site import Messages, Site
from dataflow.errors import DataflowError


class TriggerForm:
    def __init__(self, site: Site, pipelines: list[str]):
        self.site = site
        self.pipeline = pn.widgets.Select(label="Pipeline", options=pipelines,
                                          css_classes=["trigger-pipeline"])
        self.plugins = pn.widgets.MultiChoice(label="Only these plugins (empty: all)",
                                              options=[], css_classes=["trigger-plugins"])
        self.overrides = pn.widgets.TextAreaInput(
            label="One-off config override (JSON)", height=80,
            placeholder='{"technical_indicators": {"sma_period": 50}}',
            css_classes=["trigger-overrides"])
        self.button = pn.widgets.Button(label="Trigger with options", color="primary",
                                        css_classes=["trigger-with-options"])
        self.messages = Messages()
        self.pipeline.param.watch(lambda *_: self._load_plugins(), "value")
        self.button.on_click(lambda *_: self.submit())
        self._load_plugins()

    def _load_plugins(self) -> None:
        name = self.pipeline.value
        if not name:
            return
        try:
            plugins = sorted({task.plugin for task in self.site.service.plan(name).tasks})
        except DataflowError as error:        # the trigger will say why, in full
            self.messages.error(f"{name} cannot run as configured: {error}")
            plugins = []
        self.plugins.value = []
        self.plugins.options = plugins

    def submit(self):
        outcome = actions.trigger(self.site.service, self.pipeline.value,
                                  self.overrides.value, self.plugins.value)
        show(self.site, self.messages, outcome)
        return outcome

    def view(self):
        return pn.Card(pn.Row(self.pipeline, self.plugins), self.overrides, self.button,
                       self.messages.pane, title="Trigger with options", collapsed=False,
                       sizing_mode="stretch_width")


def show(site: Site, messages: Messages, outcome: actions.Outcome) -> None:
    """An action's outcome; a started run gets a link to its page (or opens inline)."""
    if not outcome.ok:
        messages.error(outcome.text)
        return
    link = ""
    if outcome.run_ids:
        run_id = outcome.run_ids[-1]
        link = site.link("run", "open run page", css="run-link", id=run_id)
        if site.inline and site.open_run is not None:
            site.open_run(run_id)
    messages.ok(outcome.text, link)
