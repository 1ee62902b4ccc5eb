"""A scheduled pipeline's policy: its cron, time zone, and what happens to missed and
overlapping runs. `SchedulePolicy` is the one place every scheduling default is
documented; `SchedulePolicy.from_mapping` validates a pipeline's keys into Problems."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, available_timezones

from dataflow.errors import ConfigError, Problem
from dataflow.schedule.cron import CRON_FIX, cron_error, next_fire_times

PIPELINES_FILE = "config/pipelines.yaml"
TIMEZONE_FIX = "use an IANA time zone name such as 'UTC', 'Europe/Berlin' or 'America/New_York'"


class Catchup(StrEnum):
    """What happens to fire times that passed while no scheduler was firing them."""

    SKIP = "skip"
    LATEST = "latest"
    ALL = "all"


class Overlap(StrEnum):
    """What a fire time does while `max_active_runs` runs of the pipeline are active."""

    SKIP = "skip"
    QUEUE = "queue"
    CANCEL_RUNNING = "cancel_running"
    ALLOW = "allow"


@dataclass(frozen=True)
class SchedulePolicy:
    """How one pipeline is scheduled. The keys sit in the pipeline's entry under
    `pipelines:`, next to `hooks:`; every default is here and only here.

    schedule         5-field cron (minute hour day-of-month month day-of-week), required.
    timezone         IANA name whose wall clock the cron reads. Default "UTC".
    catchup          fire times missed while nothing fired them (scheduler down, or
                     slower than `grace_seconds`). Default "skip".
                     skip:   only a fire time at most `grace_seconds` old runs; older
                             ones are recorded as skipped, "missed (catchup: skip)".
                     latest: the most recent missed fire time runs; older ones skipped.
                     all:    each missed fire time runs, oldest first, at most
                             `max_catchup` of them (the newest); older ones skipped.
    max_catchup      cap for catchup "all". Default 10.
    overlap          a fire time while `max_active_runs` runs are active. Default "skip".
                     skip:           not started; recorded as skipped with the reason.
                     queue:          started once an active run finishes.
                     cancel_running: the oldest active runs are cancelled, it starts.
                     allow:          started; no cap unless `max_active_runs` is set,
                                     then at the cap it is skipped like "skip".
    max_active_runs  active runs of the pipeline at once. Default None: 1 for skip,
                     queue and cancel_running; no cap for allow.
    paused           True: nothing fires; fire times passing meanwhile are recorded as
                     skipped ("paused") and never made up. Default False.
    grace_seconds    how late a fire time may be noticed and still count as on time.
                     Default 60.

    Note for `catchup: all`: the missed runs start one after another only with
    `overlap: queue` (or `allow`); with `overlap: skip` and one active run allowed, all
    but the first are skipped.
    """

    pipeline: str
    schedule: str
    timezone: str = "UTC"
    catchup: Catchup = Catchup.SKIP
    max_catchup: int = 10
    overlap: Overlap = Overlap.SKIP
    max_active_runs: int | None = None
    paused: bool = False
    grace_seconds: int = 60

    def __post_init__(self):
        values = {**self.as_mapping(), "schedule": self.schedule or ""}   # required
        problems = policy_problems(self.pipeline, values, PIPELINES_FILE)
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "catchup", Catchup(self.catchup))
        object.__setattr__(self, "overlap", Overlap(self.overlap))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def active_run_limit(self) -> int | None:
        """Active runs allowed at once (None: no cap), `max_active_runs` resolved."""
        if self.max_active_runs is not None or self.overlap == Overlap.ALLOW:
            return self.max_active_runs
        return 1

    def fire_times(self, after: datetime, count: int | None = None,
                   until: datetime | None = None) -> list[datetime]:
        """This pipeline's fire times after `after` (see `cron.next_fire_times`)."""
        return next_fire_times(self.schedule, self.zone, after, count, until)

    def as_mapping(self) -> dict:
        """The policy as the pipeline keys it is read from (plain words and numbers)."""
        return {field.name: getattr(self, field.name) for field in fields(self)
                if field.name != "pipeline"}

    @classmethod
    def from_mapping(cls, name: str, mapping: object, file: str = PIPELINES_FILE
                     ) -> tuple[SchedulePolicy | None, list[Problem]]:
        """The policy of pipeline `name` from its entry (other keys, e.g. `hooks`, are
        ignored), and every problem with it. (None, []) when it has no schedule.
        An unset key (left out, null, or empty text) takes its default."""
        if not isinstance(mapping, dict):
            return None, [Problem(file, f"pipelines.{name}", "a pipeline must be a mapping "
                                  f"of keys, got {type(mapping).__name__}",
                                  "give it keys such as `hooks:` and `schedule:`")]
        known = {key: mapping[key] for key in POLICY_KEYS if not _unset(mapping.get(key))}
        problems = policy_problems(name, known, file)
        if problems or "schedule" not in known:
            return None, problems
        return cls(pipeline=name, **known), []


def _unset(value: object) -> bool:
    """A key left out, null, or (like `schedule: ""` in pipelines.yaml) empty text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _timezone_error(name: object) -> tuple[str, str] | None:
    if not isinstance(name, str):
        return f"timezone must be a text IANA name, got {name!r}", TIMEZONE_FIX
    try:
        ZoneInfo(name)
        return None
    except (KeyError, ValueError, OSError):     # unknown, malformed, or a folder name
        pass
    known = available_timezones()
    guesses = [zone for zone in known if zone.lower() == name.strip().lower()]
    guesses = guesses or difflib.get_close_matches(name, known, n=1)
    nearest = f"{guesses[0]!r} is the nearest known name; " if guesses else ""
    return f"unknown time zone {name!r}", nearest + TIMEZONE_FIX


def _choice_error(key: str, choices: type[StrEnum]):
    def error(value: object) -> tuple[str, str] | None:
        words = [str(choice) for choice in choices]
        if isinstance(value, str) and value in words:
            return None
        return (f"{key} must be one of {', '.join(words)}; got {value!r}",
                f"use one of: {', '.join(words)} (see `SchedulePolicy` for what each does)")
    return error


def _count_error(key: str, minimum: int, example: int, default: str):
    def error(value: object) -> tuple[str, str] | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return None
        return (f"{key} must be a whole number of at least {minimum}; got {value!r}",
                f"give e.g. `{key}: {example}`, or leave it out for the default ({default})")
    return error


def _paused_error(value: object) -> tuple[str, str] | None:
    if isinstance(value, bool):
        return None
    return f"paused must be true or false; got {value!r}", "use `paused: true` or `paused: false`"


def _schedule_error(value: object) -> tuple[str, str] | None:
    error = cron_error(value)
    return (error, CRON_FIX) if error else None


VALIDATORS = {
    "schedule": _schedule_error,
    "timezone": _timezone_error,
    "catchup": _choice_error("catchup", Catchup),
    "max_catchup": _count_error("max_catchup", 1, 10, "10"),
    "overlap": _choice_error("overlap", Overlap),
    "max_active_runs": _count_error("max_active_runs", 1, 2, "1; no cap with overlap: allow"),
    "paused": _paused_error,
    "grace_seconds": _count_error("grace_seconds", 1, 120, "60"),
}
POLICY_KEYS = tuple(VALIDATORS)     # the pipeline keys a schedule policy reads


def policy_problems(name: str, values: dict, file: str = PIPELINES_FILE) -> list[Problem]:
    """Every invalid value among `values` (policy keys → values; None = unset), each
    located at `pipelines.<name>.<key>` with a fix."""
    problems = []
    for key, validate in VALIDATORS.items():
        value = values.get(key)
        if value is None:
            continue
        error = validate(value)
        if error:
            problems.append(Problem(file, f"pipelines.{name}.{key}", error[0], error[1]))
    return problems
