"""Alert settings from the `alerts:` section of config/system.yaml.

    alerts:
      slack: {webhook_url, alert_on_levels}
      collapse_window, timeout, max_retries, retry_backoff, queue_size
      email: {smtp_host, smtp_port, username, password, from, to, starttls,
              on_failure, on_success}

Every key is optional; its default and meaning are written once, at the dataclass
field of the same name below (`from` is `sender`, `webhook_url` is `slack_webhook`).
A top-level `slack:` section (the older layout) is read when `alerts.slack` is absent.
Secrets are fields marked `secret`: hidden from repr, shown as "set"/"not set" by
`public()`, and listed by `secret_values()` for redaction.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass

from dataflow.alerts.config_values import Section
from dataflow.errors import Problem

SYSTEM_FILE = "config/system.yaml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "FATAL")
WEBHOOK_ENV = "DATAFLOW_SLACK_WEBHOOK"
PASSWORD_ENV = "DATAFLOW_SMTP_PASSWORD"
ALERT_KEYS = ("slack", "email", "collapse_window", "timeout", "max_retries", "retry_backoff",
              "queue_size")
SLACK_KEYS = ("webhook_url", "alert_on_levels")
EMAIL_KEYS = ("smtp_host", "smtp_port", "username", "password", "from", "to", "starttls",
              "on_failure", "on_success")


def _secret():
    return field(default=None, repr=False, metadata={"secret": True})


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str | None = None             # the SMTP server; no email alerts without it
    smtp_port: int = 587
    username: str | None = None              # log in only when set
    password: str | None = _secret()         # $DATAFLOW_SMTP_PASSWORD wins
    sender: str | None = None                # the `from` address; required with smtp_host
    to: tuple[str, ...] = ()                 # recipients; a pipeline's `to` replaces them
    starttls: bool = True                    # upgrade the connection with STARTTLS
    on_failure: bool = True                  # mail when a run ends unsuccessfully
    on_success: bool = False                 # mail when a run succeeds

    @property
    def server_configured(self) -> bool:
        """An SMTP server and a sender are known (recipients may come per pipeline)."""
        return bool(self.smtp_host and self.sender)

    @property
    def enabled(self) -> bool:
        return self.server_configured and bool(self.to)


@dataclass(frozen=True)
class AlertSettings:
    slack_webhook: str | None = _secret()   # incoming-webhook URL; $DATAFLOW_SLACK_WEBHOOK wins
    alert_on_levels: tuple[str, ...] = ("ERROR", "FATAL")   # log levels that alert on Slack
    collapse_window: float = 300.0          # seconds in which identical alerts are sent once
    timeout: float = 5.0                    # seconds for one send
    max_retries: int = 3                    # further attempts after a failed send
    retry_backoff: float = 0.5              # seconds before the first retry, doubling after
    queue_size: int = 1000                  # alerts waiting to be sent; the oldest go when full
    email: EmailSettings = field(default_factory=EmailSettings)

    @classmethod
    def from_mapping(cls, mapping, env: Mapping[str, str] | None = None
                     ) -> tuple[AlertSettings, list[Problem]]:
        """Settings from system.yaml's data (the whole document) and the environment
        (default: os.environ), and every problem found; bad values keep their default."""
        return read_alert_settings(mapping, os.environ if env is None else env)

    def public(self) -> dict:
        """The settings as a dict safe to print: secrets only say "set" or "not set"."""
        return _public(self)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret in these settings, for `redact`."""
        return _secrets(self)


def _secrets(settings) -> tuple[str, ...]:
    found: list[str] = []
    for item in fields(settings):
        value = getattr(settings, item.name)
        if item.metadata.get("secret") and value:
            found.append(value)
        elif is_dataclass(value):
            found.extend(_secrets(value))
    return tuple(found)


def _public(settings) -> dict:
    shown = {}
    for item in fields(settings):
        value = getattr(settings, item.name)
        if item.metadata.get("secret"):
            value = "set" if value else "not set"
        elif is_dataclass(value):
            value = _public(value)
        elif isinstance(value, tuple):
            value = list(value)
        shown[item.name] = value
    return shown


def _webhook(slack: Section, env: Mapping[str, str], problems: list[Problem]) -> str | None:
    from_env = env.get(WEBHOOK_ENV)
    url = from_env or slack.text("webhook_url", None)
    if url and not url.startswith(("https://", "http://")):
        source = f"${WEBHOOK_ENV}" if from_env else "the value"
        problems.append(Problem(SYSTEM_FILE, slack.key("webhook_url"),
                                f"{source} is not an http(s) URL",
                                "copy the incoming-webhook URL from the Slack app's settings"))
        return None
    return url


def _email(section: Section, env: Mapping[str, str]) -> EmailSettings:
    default = EmailSettings()
    to = section.texts("to", default.to, fix="e.g. `to: [ops@example.com]`")
    if any("@" not in address for address in to):
        section.problem("to", "every recipient must be an email address")
        to = tuple(address for address in to if "@" in address)
    email = EmailSettings(
        smtp_host=section.text("smtp_host", default.smtp_host),
        smtp_port=section.integer("smtp_port", default.smtp_port, 1, 65535),
        username=section.text("username", default.username),
        password=env.get(PASSWORD_ENV) or section.text("password", default.password),
        sender=section.text("from", default.sender), to=to,
        starttls=section.flag("starttls", default.starttls),
        on_failure=section.flag("on_failure", default.on_failure),
        on_success=section.flag("on_success", default.on_success))
    if email.to and not email.smtp_host:
        section.problem("smtp_host", "is needed to send the email alerts `to` asks for",
                        "give the SMTP server, e.g. `smtp_host: smtp.example.com`")
    if email.smtp_host and not email.sender:
        section.problem("from", "is needed with smtp_host", "e.g. `from: dataflow@example.com`")
    return email


def read_alert_settings(mapping, env: Mapping[str, str]) -> tuple[AlertSettings, list[Problem]]:
    problems: list[Problem] = []
    root = mapping if isinstance(mapping, Mapping) else {}
    alerts = Section(root.get("alerts"), "alerts", SYSTEM_FILE, problems, ALERT_KEYS)
    legacy = "slack" not in alerts.data and "slack" in root
    slack = (Section(root["slack"], "slack", SYSTEM_FILE, problems, SLACK_KEYS) if legacy
             else alerts.sub("slack", SLACK_KEYS))
    default = AlertSettings()
    settings = AlertSettings(
        slack_webhook=_webhook(slack, env, problems),
        alert_on_levels=slack.texts("alert_on_levels", default.alert_on_levels, LOG_LEVELS),
        collapse_window=alerts.number("collapse_window", default.collapse_window),
        timeout=alerts.number("timeout", default.timeout, positive=True),
        max_retries=alerts.integer("max_retries", default.max_retries),
        retry_backoff=alerts.number("retry_backoff", default.retry_backoff),
        queue_size=alerts.integer("queue_size", default.queue_size, minimum=1),
        email=_email(alerts.sub("email", EMAIL_KEYS), env))
    return settings, problems
