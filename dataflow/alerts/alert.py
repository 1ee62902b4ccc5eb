"""What an alert is: one immutable message for people, and the words that classify it.

Rules create alerts from engine events, the dispatcher collapses identical ones and
the notifiers render them; all three agree on this single value type, so a channel
never has to know which event an alert came from.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


# Levels: the log levels that alert, plus the kinds of alert that no log record makes.
ERROR = "ERROR"
FATAL = "FATAL"
FAILED_RUN = "FAILED-RUN"          # a run ended in an unsuccessful status
COMPLETED_RUN = "COMPLETED-RUN"    # a run succeeded (only when on_success asks for it)
ABSENCE = "ABSENCE"                # a pipeline has not succeeded within its max data age
OVERDUE = "OVERDUE"                # a run is still going past its expected duration
TEST = "TEST"                      # `dataflow alert test`

# Channels an alert can go to.
SLACK = "slack"
EMAIL = "email"


@dataclass(frozen=True)
class Alert:
    """One message for people. `text` is the message proper; `title` one line about it."""

    level: str
    title: str
    text: str
    pipeline: str | None = None
    run_id: str | None = None
    plugin: str | None = None
    details: tuple[tuple[str, str], ...] = ()      # extra name/value lines (log fields, ...)
    channels: tuple[str, ...] = (SLACK,)
    recipients: tuple[str, ...] = ()                # email: overrides the global `to`

    @property
    def dedupe_key(self) -> tuple:
        """Alerts with the same key are the same news: the run id does not count, so one
        error repeated by every run of a pipeline collapses."""
        return (self.level, self.pipeline, self.plugin, self.text)

    def repeated(self, count: int, window: float) -> Alert:
        """The follow-up that reports `count` repeats swallowed during the window."""
        note = f"(repeated {count} times in the last {window:g} s)"
        return replace(self, title=f"{self.title} {note}", text=f"{self.text}\n{note}")
