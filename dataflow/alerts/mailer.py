"""Send an alert as a plain-text email through SMTP.

Email is for run results (a failed run, and on request a succeeded one): people
read it later, so the subject names the pipeline and the status and the body lists
everything the alert knows. The SMTP password never appears in an error.
(Not named `email.py`: that would shadow the standard library's `email` package
for anyone running a file from this folder.)
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from dataflow.alerts.alert import EMAIL, Alert
from dataflow.errors import AlertSendError
from dataflow.alerts.redact import error_text
from dataflow.alerts.settings import EmailSettings


def email_message(alert: Alert, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The mail for one alert: the alert's title as subject, its facts as body."""
    message = EmailMessage()
    message["Subject"] = f"[dataflow] {alert.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    facts = [("Level", alert.level), ("Pipeline", alert.pipeline), ("Run", alert.run_id),
             ("Plugin", alert.plugin), *alert.details]
    lines = [f"{name}: {value}" for name, value in facts if value not in (None, "")]
    message.set_content(alert.text + "\n\n" + "\n".join(lines) + "\n\n-- dataflow\n")
    return message


class EmailNotifier:
    """Mails alerts through one SMTP server; each connection bounded by `timeout` seconds."""

    channel = EMAIL

    def __init__(self, email: EmailSettings, timeout: float = 5.0):
        self._email, self.timeout = email, timeout

    def __repr__(self) -> str:
        email = self._email
        login = "password set" if email.password else "no password"
        return (f"EmailNotifier(smtp={email.smtp_host}:{email.smtp_port}, "
                f"starttls={email.starttls}, {login}, timeout={self.timeout:g})")

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._email.password,) if self._email.password else ()

    def send(self, alert: Alert) -> None:
        """Mail the alert to its recipients (else the global `to`); raise AlertSendError."""
        email = self._email
        recipients = alert.recipients or email.to
        if not recipients:
            raise AlertSendError("no email recipients: set alerts.email.to")
        message = email_message(alert, email.sender or "", recipients)
        error = None
        try:
            with smtplib.SMTP(email.smtp_host or "", email.smtp_port, timeout=self.timeout) as smtp:
                if email.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if email.username:
                    smtp.login(email.username, email.password or "")
                smtp.send_message(message)
        except (OSError, ValueError) as exc:     # smtplib's errors are OSErrors
            error = error_text(exc, self.secrets)
        if error is not None:       # raised outside `except`: no chained exception
            raise AlertSendError(error)
