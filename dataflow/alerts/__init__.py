"""Alerts: tell people about errors, failed runs and missing successes, by Slack and email.

Self-contained: it takes the engine's plain event dicts and knows nothing else of
the engine. The pieces, each in its own module:

    settings.AlertSettings       what to send where (config/system.yaml `alerts:`)
    pipeline_alerts              a pipeline's own email choices over the global ones
    rules.AlertRules             event -> alerts; absence.py: stale pipelines, overdue runs
    dispatcher.AlertDispatcher   background delivery: queue, retries, collapsing, counters
    slack / mailer               the channels; channels.send_test_alert checks them
    redact                       keeps webhook URLs and passwords out of every text

Wiring (for the engine):

    settings, problems = AlertSettings.from_mapping(system_yaml_data)
    rules = AlertRules(settings, {name: pipeline.get("alerts") for name, pipeline in ...})
    dispatcher = AlertDispatcher(settings)          # starts its thread
    # in the event listener (never blocks):
    for alert in rules.alerts_for(event):
        dispatcher.submit(alert)
    # periodically: rules.stale(...), rules.overdue(...) -> submit; at shutdown:
    dispatcher.stop(timeout=10)
"""
from __future__ import annotations

from dataflow.alerts.absence import AbsenceLatch, overdue_runs, stale_pipelines
from dataflow.alerts.alert import Alert
from dataflow.errors import AlertSendError
from dataflow.alerts.channels import build_notifiers, send_test_alert
from dataflow.alerts.dispatcher import AlertDispatcher
from dataflow.alerts.mailer import EmailNotifier
from dataflow.alerts.pipeline_alerts import pipeline_email
from dataflow.alerts.redact import redact
from dataflow.alerts.rules import AlertRules
from dataflow.alerts.run_event import run_finished_event
from dataflow.alerts.settings import AlertSettings, EmailSettings
from dataflow.alerts.slack import SlackNotifier

__all__ = ["AbsenceLatch", "Alert", "AlertDispatcher", "AlertRules", "AlertSendError",
           "AlertSettings", "EmailNotifier", "EmailSettings", "SlackNotifier", "build_notifiers",
           "overdue_runs", "pipeline_email", "redact", "run_finished_event", "send_test_alert",
           "stale_pipelines"]
