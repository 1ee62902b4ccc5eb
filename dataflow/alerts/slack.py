"""Post an alert to a Slack incoming webhook.

The payload carries a plain `text` (what phone notifications show) and Slack
`blocks` naming level, pipeline, plugin and run, so the channel reads at a glance
which pipeline needs whom. The webhook URL is the credential: it never leaves this
object except in the POST itself, and errors are rewritten without it.
"""
from __future__ import annotations

import requests

from dataflow.alerts.alert import (ABSENCE, COMPLETED_RUN, ERROR, FAILED_RUN, FATAL, OVERDUE,
                                   SLACK, TEST, Alert)
from dataflow.errors import AlertSendError
from dataflow.alerts.redact import error_text, protect_library_logs, redact

HEADER_LIMIT, FIELD_LIMIT, TEXT_LIMIT = 150, 2000, 3000     # Slack's block limits
EMOJI = {FATAL: ":red_circle:", ERROR: ":warning:", FAILED_RUN: ":x:",
         COMPLETED_RUN: ":white_check_mark:", ABSENCE: ":hourglass:",
         OVERDUE: ":hourglass_flowing_sand:", TEST: ":wave:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _escape(text) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(name: str, value) -> dict:
    shown = _escape(value) if value not in (None, "") else "—"
    return {"type": "mrkdwn", "text": _cut(f"*{name}*\n{shown}", FIELD_LIMIT)}


def slack_payload(alert: Alert) -> dict:
    """The JSON body for one alert; FATAL is marked (red, "pipeline stopped") in the
    text, the header's emoji and the Level field."""
    fatal = alert.level == FATAL
    label = f"{alert.level} (pipeline stopped)" if fatal else alert.level
    header = f"{EMOJI.get(alert.level, ':bell:')} {alert.title}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(header, HEADER_LIMIT)}},
        {"type": "section", "fields": [
            _field("Level", label), _field("Pipeline", alert.pipeline),
            _field("Plugin", alert.plugin), _field("Run", alert.run_id)]},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": _cut(_escape(alert.text) or "—", TEXT_LIMIT)}},
    ]
    if alert.details:
        lines = [f"*{_escape(name)}*: {_escape(value)}" for name, value in alert.details[:10]]
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _cut(line, FIELD_LIMIT)} for line in lines]})
    text = _cut(f"[{label}] {alert.title}\n{alert.text}", TEXT_LIMIT)
    return {"text": text, "blocks": blocks}


class SlackNotifier:
    """Sends alerts to one webhook, each POST bounded by `timeout` seconds."""

    channel = SLACK

    def __init__(self, webhook_url: str, timeout: float = 5.0):
        self._url, self.timeout = webhook_url, timeout
        protect_library_logs([webhook_url])

    def __repr__(self) -> str:
        return f"SlackNotifier(webhook=set, timeout={self.timeout:g})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._url,)

    def send(self, alert: Alert) -> None:
        """POST the alert; raise AlertSendError (without the URL) unless Slack took it."""
        error = None
        try:
            response = requests.post(self._url, json=slack_payload(alert), timeout=self.timeout)
        except requests.RequestException as exc:       # its text quotes the URL
            error = error_text(exc, self.secrets)
        else:
            if not 200 <= response.status_code < 300:
                body = redact(_cut(response.text.strip(), 200), self.secrets)
                error = f"Slack answered HTTP {response.status_code}: {body}"
        if error is not None:       # raised outside `except`: no chained exception holds the URL
            raise AlertSendError(error)
