"""Which engine events become alerts, and for which channel.

    log record at a level in alert_on_levels  -> Slack (FATAL: "the pipeline was stopped")
    run_finished, unsuccessful status          -> email, if the pipeline's on_failure
    run_finished, completed                    -> email, if the pipeline's on_success
    stale pipeline / overdue run (absence.py)  -> Slack, and email if on_failure; once each
                                                  until it clears
    task_finished and anything else            -> nothing: a failed task reaches people
                                                  through its run's result and its logs

Immediate news (a plugin's ERROR) goes to the chat; a run's result, which people
read later, goes to email. Per-pipeline email settings (pipeline_alerts.py) decide
whether and to whom a pipeline's results are mailed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from dataflow.alerts.absence import AbsenceLatch, overdue_runs, span_text, stale_pipelines
from dataflow.alerts.alert import COMPLETED_RUN, EMAIL, FAILED_RUN, FATAL, SLACK, Alert
from dataflow.alerts.pipeline_alerts import pipeline_email
from dataflow.alerts.run_event import LOG, RUN_FINISHED
from dataflow.alerts.settings import AlertSettings, EmailSettings
from dataflow.statuses import UNSUCCESSFUL_RUN_STATUSES, RunStatus

logger = logging.getLogger("dataflow.alerts")


def _where(pipeline, plugin) -> str:
    return " / ".join(str(part) for part in (pipeline, plugin) if part) or "dataflow"


def _run_status(value: object) -> RunStatus | None:
    """The RunStatus `value` names; None for anything else (no status, unknown words)."""
    if not isinstance(value, str):      # RunStatus refuses every non-string value too
        return None
    try:
        return RunStatus(value)
    except ValueError:
        return None


class AlertRules:
    """Turns events into alerts for `settings`; `pipeline_alerts` maps a pipeline name
    to its `alerts:` mapping from pipelines.yaml (validate it with `pipeline_email`)."""

    def __init__(self, settings: AlertSettings,
                 pipeline_alerts: Mapping[str, Mapping] | None = None):
        self._settings = settings
        self._email = {name: pipeline_email(settings.email, mapping, name)[0]
                       for name, mapping in (pipeline_alerts or {}).items()}
        self._stale, self._overdue = AbsenceLatch(), AbsenceLatch()

    def email_for(self, pipeline: str | None) -> EmailSettings:
        if pipeline is None:
            return self._settings.email
        return self._email.get(pipeline, self._settings.email)

    def alerts_for(self, event: Mapping) -> list[Alert]:
        """The alerts one engine event calls for (most events: none)."""
        kind = event.get("kind")
        if kind == LOG:
            return self._log_alerts(event)
        if kind == RUN_FINISHED:
            return self._run_alerts(event)
        return []

    def stale(self, last_success_by_pipeline: Mapping[str, datetime | None],
              max_age_by_pipeline: Mapping[str, timedelta], now: datetime) -> list[Alert]:
        """New stale-pipeline alerts (see absence.stale_pipelines), each once until it clears."""
        found = stale_pipelines(last_success_by_pipeline, max_age_by_pipeline, now)
        return [self._absence_channels(a) for a in self._stale.admit(found)]

    def overdue(self, running: Iterable[Mapping], expected_by_pipeline: Mapping[str, timedelta],
                now: datetime) -> list[Alert]:
        """New overdue-run alerts (see absence.overdue_runs), each once per run."""
        found = overdue_runs(running, expected_by_pipeline, now)
        return [self._absence_channels(a) for a in self._overdue.admit(found)]

    def _absence_channels(self, alert: Alert) -> Alert:
        email = self.email_for(alert.pipeline)
        if email.enabled and email.on_failure:
            return replace(alert, channels=(SLACK, EMAIL), recipients=email.to)
        return alert

    def _log_alerts(self, event: Mapping) -> list[Alert]:
        level = str(event.get("level", "")).upper()
        if level not in self._settings.alert_on_levels:
            return []
        pipeline, plugin = event.get("pipeline"), event.get("plugin")
        title = f"{level} in {_where(pipeline, plugin)}"
        if level == FATAL:
            title += ": the pipeline was stopped"
        fields = event.get("fields") or {}
        details = tuple((str(k), str(v)) for k, v in
                        [("hook", event.get("hook")), *fields.items()] if v is not None)
        return [Alert(level, title, str(event.get("message", "")), pipeline,
                      event.get("run_id"), plugin, details, channels=(SLACK,))]

    def _run_alerts(self, event: Mapping) -> list[Alert]:
        status = _run_status(event.get("status"))
        if status is None:
            logger.debug("run_finished event with unknown status %r", event.get("status"))
            return []
        email = self.email_for(event.get("pipeline"))
        failed = status in UNSUCCESSFUL_RUN_STATUSES
        wanted = email.on_failure if failed else status == RunStatus.COMPLETED and email.on_success
        if not (wanted and email.enabled):
            return []
        return [self._run_alert(event, status, FAILED_RUN if failed else COMPLETED_RUN, email)]

    @staticmethod
    def _run_alert(event: Mapping, status: RunStatus, level: str, email: EmailSettings) -> Alert:
        pipeline, run_id = event.get("pipeline"), event.get("run_id")
        status_text = status.value.replace("_", " ")
        duration = event.get("duration")
        took = f" after {span_text(duration)}" if isinstance(duration, (int, float)) else ""
        text = f"Run {run_id} of pipeline {pipeline} ended {status_text}{took}."
        if event.get("error"):
            text += f"\n\nError: {event['error']}"
        details = tuple((name, str(event[key])) for name, key in
                        [("status", "status"), ("started", "started"), ("finished", "finished"),
                         ("duration (s)", "duration")] if event.get(key) is not None)
        return Alert(level, f"{pipeline}: run {status_text}", text, pipeline, run_id,
                     details=details, channels=(EMAIL,), recipients=email.to)
