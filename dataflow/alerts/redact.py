"""Keep secrets (webhook URLs, SMTP passwords) out of every text a person can see.

A Slack webhook URL *is* the credential, and HTTP libraries quote it back in their
errors and debug logs, often only its path ("Max retries exceeded with url:
/services/T0/B0/XYZ"). So `redact` hides each secret in all the forms it can take,
and `protect_library_logs` filters the HTTP library's own loggers, which log request
lines at DEBUG, because those records never pass through our code.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import quote, urlsplit

from dataflow.errors import AlertSendError

MASK = "***"
# The loggers of urllib3 (under requests) that quote request URLs.
LIBRARY_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
                   "urllib3.util.retry", "urllib3.response")


def secret_forms(secret: str) -> set[str]:
    """The spellings under which `secret` may show up in a message."""
    forms = {secret, quote(secret, safe=""), quote(secret, safe="/:")}
    parts = urlsplit(secret)
    if parts.scheme and parts.netloc and len(parts.path) > 1:
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        forms.update({tail, parts.path, parts.path.lstrip("/")})
    return {form for form in forms if form}


def redact(text: str, secrets) -> str:
    """`text` with every form of every non-empty secret replaced by ***."""
    text = str(text)
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= secret_forms(str(secret))
    for form in sorted(forms, key=len, reverse=True):     # longest first: URL before path
        text = text.replace(form, MASK)
    return text


def error_text(exc: BaseException, secrets) -> str:
    """An exception as one line for logs and results, redacted (our own errors unprefixed)."""
    text = str(exc) if isinstance(exc, AlertSendError) else f"{type(exc).__name__}: {exc}"
    return redact(text, secrets)


class SecretFilter(logging.Filter):
    """Rewrites records of the loggers it sits on so that no known secret remains."""

    def __init__(self):
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets) -> None:
        with self._lock:
            self._secrets |= {str(s) for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        if secrets:
            record.msg, record.args = redact(record.getMessage(), secrets), ()
        return True


_FILTER = SecretFilter()
_installed = False
_install_lock = threading.Lock()


def protect_library_logs(secrets) -> None:
    """Mask `secrets` in the HTTP library's own log records from now on."""
    global _installed
    _FILTER.add(secrets)
    with _install_lock:
        if not _installed:
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _installed = True
