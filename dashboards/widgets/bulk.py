"""Bulk actions on the runs page's current filter, each asked to be confirmed first:
cancel every running run that matches; resume every failed one (failed tasks only, or
everything not done)."""
from __future__ import annotations

from collections.abc import Callable

import panel as pn

from dashboards import actions
from dashboards.site import Messages, Site
from dataflow.statuses import ACTIVE_RUN_STATUSES, RESUMABLE_RUN_STATUSES, RunStatus
from dataflow.store.run_views import RunFilter, matching_run_ids


class BulkActions:
    def __init__(self, site: Site, current_filter: Callable[[], RunFilter],
                 after: Callable[[], None]):
        self.site, self.current_filter, self.after = site, current_filter, after
        self.cancel_button = pn.widgets.Button(label="Cancel all running that match",
                                               color="danger",
                                               css_classes=["bulk-cancel"])
        self.resume_button = pn.widgets.Button(label="Resume all failed that match",
                                               color="warning",
                                               css_classes=["bulk-resume"])
        self.failed_only = pn.widgets.Checkbox(label="failed tasks only", value=True,
                                               css_classes=["bulk-failed-only"])
        self.confirm = pn.widgets.Button(label="Confirm", color="primary", visible=False,
                                         css_classes=["bulk-confirm"])
        self.dismiss = pn.widgets.Button(label="Never mind", visible=False,
                                         css_classes=["bulk-dismiss"])
        self.messages = Messages()
        self._armed: Callable[[], actions.Outcome] | None = None
        self.cancel_button.on_click(lambda *_: self.arm("cancel"))
        self.resume_button.on_click(lambda *_: self.arm("resume"))
        self.confirm.on_click(self._confirmed)
        self.dismiss.on_click(lambda *_: self.disarm())

    def arm(self, kind: str) -> None:
        """Say how many runs the action would touch; it runs on Confirm."""
        run_filter = self.current_filter()
        db, service = self.site.db, self.site.service
        if kind == "cancel":
            count = len(matching_run_ids(db, run_filter, ACTIVE_RUN_STATUSES))
            what = f"cancel {count} running run(s)"
            self._armed = lambda: actions.bulk_cancel(service, run_filter)
        else:
            statuses = RESUMABLE_RUN_STATUSES if run_filter.status else (RunStatus.FAILED,)
            count = len(matching_run_ids(db, run_filter, statuses, exclude_resumed=True))
            failed_only = self.failed_only.value
            what = f"resume {count} run(s) not resumed yet"
            self._armed = lambda: actions.bulk_resume(service, run_filter, failed_only)
        self.messages.ok(f"This will {what} matching the filter. Confirm?")
        self.confirm.visible = self.dismiss.visible = count > 0
        if count == 0:
            self._armed = None
            self.messages.ok("No run matching the filter to act on.")

    def _confirmed(self, *_: object) -> None:
        self.run()          # Confirm's click: the outcome shows in the messages

    def disarm(self) -> None:
        self._armed = None
        self.confirm.visible = self.dismiss.visible = False
        self.messages.clear()

    def run(self) -> actions.Outcome | None:
        action, self._armed = self._armed, None
        self.confirm.visible = self.dismiss.visible = False
        if action is None:
            return None
        outcome = action()
        (self.messages.ok if outcome.ok else self.messages.error)(outcome.text)
        self.after()
        return outcome

    def view(self):
        return pn.Column(pn.Row(self.cancel_button, self.resume_button, self.failed_only),
                         pn.Row(self.messages.pane, self.confirm, self.dismiss),
                         sizing_mode="stretch_width")
