"""Which channels the settings configure, and a synchronous check of each of them.

The dispatcher and `dataflow alert test` must agree on what "configured" means, so
both get their notifiers here. The check sends one real message per channel, once
(no retries: a person is waiting for the answer), and reports errors redacted.
"""
from __future__ import annotations

from dataflow.alerts.alert import EMAIL, SLACK, TEST, Alert
from dataflow.alerts.mailer import EmailNotifier
from dataflow.alerts.redact import error_text
from dataflow.alerts.settings import AlertSettings
from dataflow.alerts.slack import SlackNotifier


def build_notifiers(settings: AlertSettings) -> dict:
    """channel name -> notifier, for every channel the settings configure."""
    notifiers: dict = {}
    if settings.slack_webhook:
        notifiers[SLACK] = SlackNotifier(settings.slack_webhook, settings.timeout)
    if settings.email.server_configured:
        notifiers[EMAIL] = EmailNotifier(settings.email, settings.timeout)
    return notifiers


def probe_alert() -> Alert:
    """The message `dataflow alert test` sends."""
    return Alert(TEST, "test alert",
                 "A test message from `dataflow alert test`: this channel works.",
                 channels=(SLACK, EMAIL))


def send_test_alert(settings: AlertSettings, notifiers: dict | None = None) -> dict[str, dict]:
    """Send one test alert through each configured channel, now.

    Returns {channel: {"ok": bool, "error": str | None}}; empty when nothing is
    configured. Errors are redacted and never raised.
    """
    notifiers = build_notifiers(settings) if notifiers is None else notifiers
    secrets = settings.secret_values()
    results: dict[str, dict] = {}
    for channel, notifier in notifiers.items():
        try:
            notifier.send(probe_alert())
            results[channel] = {"ok": True, "error": None}
        except Exception as exc:      # noqa: BLE001 -- reported, like every channel's outcome
            results[channel] = {"ok": False, "error": error_text(exc, secrets)}
    return results
