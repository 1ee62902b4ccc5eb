"""Alerts wired to a project: one object that listens to run events, checks for absences
and delivers, for whichever process runs the engine (`dataflow serve`, `dataflow run`).

    alerts = AlertService.for_project(project)
    engine.add_listener(alerts.on_event, "alerts")      # log records, run_finished
    alerts.start_absence(lambda: project.db)            # serve: every 60 s
    ...
    alerts.stop(timeout)                                # flush, bounded

Settings come from system.yaml (`alerts:`, the older `slack:`, the environment); a
pipeline's own `alerts:`, `max_data_age` and `expected_duration` from pipelines.yaml.
A problem in them is logged (never with a secret) and its default used.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from dataflow.alerts.absence import parse_duration
from dataflow.alerts.alert import Alert
from dataflow.alerts.channels import build_notifiers
from dataflow.alerts.dispatcher import AlertDispatcher
from dataflow.alerts.pipeline_alerts import pipeline_email
from dataflow.alerts.rules import AlertRules
from dataflow.alerts.settings import AlertSettings
from dataflow.background import BackgroundThread, periodic
from dataflow.store.alert_facts import last_successes, running_runs

if TYPE_CHECKING:
    from pymongo.database import Database

    from dataflow.project import Project
    from dataflow.run.engine import Engine

logger = logging.getLogger("dataflow.alerts")
ABSENCE_INTERVAL = 60.0     # seconds between two absence checks in `dataflow serve`
STOP_WAIT = 10.0            # seconds stop() gives the queued alerts


def _spans(pipelines: Mapping[str, Any], key: str) -> dict[str, timedelta]:
    """{pipeline: its `key` as a timedelta} for the enabled pipelines that set it."""
    spans = {}
    for name, pipeline in pipelines.items():
        span = parse_duration(getattr(pipeline, key, None))
        if span is not None and getattr(pipeline, "enabled", True):
            spans[name] = span
    return spans


def alert_settings(project: Project) -> AlertSettings:
    """The project's alert settings; each problem in them logged."""
    settings, problems = AlertSettings.from_mapping(project.settings.alerts)
    for problem in problems:
        logger.warning("alert settings: %s", problem)
    return settings


class AlertService:
    """AlertRules + AlertDispatcher (started now) + the absence checks of `pipelines`
    (name -> an object with max_data_age, expected_duration, alerts, enabled)."""

    def __init__(self, settings: AlertSettings, pipelines: Mapping[str, Any] | None = None,
                 notifiers: dict | None = None):
        pipelines = dict(pipelines or {})
        self.settings = settings
        self.rules = AlertRules(settings, self._pipeline_alerts(settings, pipelines))
        self.max_age = _spans(pipelines, "max_data_age")
        self.expected = _spans(pipelines, "expected_duration")
        self.dispatcher = AlertDispatcher(settings, notifiers)
        self._absence: BackgroundThread | None = None

    @staticmethod
    def _pipeline_alerts(settings: AlertSettings, pipelines: Mapping[str, Any]) -> dict:
        chosen = {}
        for name, pipeline in pipelines.items():
            mapping = getattr(pipeline, "alerts", None)
            if not mapping:
                continue
            for problem in pipeline_email(settings.email, mapping, name)[1]:
                logger.warning("pipeline alerts: %s", problem)
            chosen[name] = mapping
        return chosen

    @classmethod
    def for_project(cls, project: Project) -> AlertService:
        return cls(alert_settings(project), project.pipelines)

    @classmethod
    def if_configured(cls, project: Project) -> AlertService | None:
        """The project's alerts when some channel (Slack, email) is configured, else None."""
        settings = alert_settings(project)
        return cls(settings, project.pipelines) if build_notifiers(settings) else None

    @classmethod
    def attach(cls, engine: Engine, interval: float = ABSENCE_INTERVAL) -> AlertService:
        """The project's alerts for every run of `engine` (a listener) and absence checks
        every `interval` s: what `dataflow serve` and `dataflow scheduler` run."""
        alerts = cls.for_project(engine.project)
        engine.add_listener(alerts.on_event, "alerts")
        return alerts.start_absence(lambda: engine.project.db, interval)

    def __repr__(self) -> str:
        return f"AlertService({self.dispatcher!r})"

    def on_event(self, event: dict) -> None:
        """A run listener: queue the alerts `event` calls for (returns at once)."""
        for alert in self.rules.alerts_for(event):
            self.dispatcher.submit(alert)

    def check_absence(self, db: Database[Any], now: datetime | None = None) -> list[Alert]:
        """Queue (and return) the new stale-pipeline and overdue-run alerts: one store
        query for the last successes, one for the running runs."""
        now = now or datetime.now(timezone.utc)
        alerts: list[Alert] = []
        if self.max_age:
            alerts += self.rules.stale(last_successes(db, self.max_age), self.max_age, now)
        if self.expected:
            alerts += self.rules.overdue(running_runs(db), self.expected, now)
        for alert in alerts:
            self.dispatcher.submit(alert)
        return alerts

    def start_absence(self, database: Callable[[], Database[Any]],
                      interval: float = ABSENCE_INTERVAL) -> AlertService:
        """Check for absences every `interval` seconds on a background thread."""
        def check() -> None:
            self.check_absence(database())
        if self._absence is None and (self.max_age or self.expected):
            self._absence = periodic("dataflow-alert-absence", interval, check).start()
        return self

    def stats(self) -> dict[str, int]:
        return self.dispatcher.stats()

    def stop(self, timeout: float = STOP_WAIT) -> bool:
        """Stop the absence checks, send what is queued (at most `timeout` s), stop."""
        if self._absence is not None:
            self._absence.stop(1.0)
        return self.dispatcher.stop(timeout)
