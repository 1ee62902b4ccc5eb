"""The run page's buttons: cancel the run or one plugin, resume (failed tasks only or
everything not done), mark one plugin's task successful, trigger one plugin again.
Buttons show only when they apply to the run's status."""
from __future__ import annotations

from collections.abc import Callable

import panel as pn

from dashboards import actions
from dashboards.run_model import RunModel
from dashboards.site import Messages, Site
from dashboards.widgets.trigger_form import show
from dataflow.statuses import RESUMABLE_RUN_STATUSES


def _button(name: str, css: str, kind: str = "default"):
    return pn.widgets.Button(label=name, color=kind, css_classes=[css])


class RunActions:
    def __init__(self, site: Site, model: RunModel, after: Callable[[], None]):
        self.site, self.model, self.after = site, model, after
        self.cancel_run = _button("Cancel run", "cancel-run", "danger")
        self.resume_failed = _button("Resume failed tasks", "resume-failed", "warning")
        self.resume_all = _button("Resume all not done", "resume-all", "warning")
        self.plugin = pn.widgets.Select(label="Plugin", options=model.plugins(), width=200,
                                        css_classes=["action-plugin"])
        self.cancel_plugin = _button("Cancel this plugin", "cancel-plugin", "danger")
        self.mark = _button("Mark successful", "mark-success")
        self.rerun = _button("Run this plugin again", "trigger-plugin", "primary")
        self.messages = Messages()
        service = site.service
        self._on(self.cancel_run, lambda: actions.cancel(service, model.run_id))
        self._on(self.resume_failed, lambda: actions.resume(service, model.run_id, True))
        self._on(self.resume_all, lambda: actions.resume(service, model.run_id, False))
        self._on(self.cancel_plugin,
                 lambda: actions.cancel(service, model.run_id, self.plugin.value))
        self._on(self.mark, lambda: actions.mark_success(service, model.run_id,
                                                         self.plugin.value))
        self._on(self.rerun, self._rerun)
        self.update()

    def _on(self, button, action: Callable[[], actions.Outcome]) -> None:
        def clicked(*_):
            outcome = action()
            show(self.site, self.messages, outcome)
            self.after()
        button.on_click(clicked)

    def _rerun(self) -> actions.Outcome:
        """Trigger the chosen plugin again in the run's pipeline."""
        pipeline = self.model.run.get("pipeline")
        if pipeline is None:        # no run record read: no pipeline to run it in
            return actions.Outcome(False, "trigger refused: the run's pipeline is not known")
        return actions.trigger(self.site.service, pipeline, plugins=[self.plugin.value])

    def update(self) -> None:
        """Show the buttons that apply now."""
        running = self.model.running
        resumable = self.model.run.get("status") in RESUMABLE_RUN_STATUSES
        self.cancel_run.visible = self.cancel_plugin.visible = running
        self.resume_failed.visible = self.resume_all.visible = resumable
        self.mark.visible = not running and bool(self.model.run)
        plugins = self.model.plugins()
        if list(self.plugin.options) != plugins:
            self.plugin.options = plugins

    def view(self):
        return pn.Column(
            pn.Row(self.cancel_run, self.resume_failed, self.resume_all),
            pn.Row(self.plugin, self.cancel_plugin, self.mark, self.rerun),
            self.messages.pane, sizing_mode="stretch_width")
