"""A pipeline's own `alerts:` mapping over the global email settings.

Who hears about a pipeline's runs is a property of the pipeline (its owners), while
the SMTP server and its credentials are the installation's; so a pipeline may set
only `on_failure`, `on_success` and `to`, and its `to` replaces the global list:

    pipelines:
      prices:
        alerts:
          email: {on_failure: true, on_success: true, to: [desk@example.com]}
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dataflow.alerts.config_values import Section
from dataflow.alerts.settings import EmailSettings
from dataflow.errors import Problem

PIPELINES_FILE = "config/pipelines.yaml"
PIPELINE_EMAIL_KEYS = ("on_failure", "on_success", "to")


def pipeline_email(global_email: EmailSettings, pipeline_alerts: Mapping | None,
                   pipeline: str) -> tuple[EmailSettings, list[Problem]]:
    """The email settings for `pipeline`, and the problems in its `alerts:` mapping."""
    problems: list[Problem] = []
    if pipeline_alerts is None:
        return global_email, problems
    path = f"pipelines.{pipeline}.alerts"
    alerts = Section(pipeline_alerts, path, PIPELINES_FILE, problems, ("email",))
    email = alerts.sub("email", PIPELINE_EMAIL_KEYS,
                       "a pipeline sets only on_failure, on_success and to; the SMTP server "
                       "and its login go under `alerts.email` in config/system.yaml")
    to = email.texts("to", global_email.to, fix="e.g. `to: [desk@example.com]`")
    if any("@" not in address for address in to):
        email.problem("to", "every recipient must be an email address")
        to = tuple(address for address in to if "@" in address)
    merged = replace(global_email, to=to,
                     on_failure=email.flag("on_failure", global_email.on_failure),
                     on_success=email.flag("on_success", global_email.on_success))
    return merged, problems
