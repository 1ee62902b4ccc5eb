"""The pipelines a scheduler loop watches: each scheduled pipeline's policy (its YAML or
stored keys, the pause override from the store applied), the fire time it last handled,
the moment it started being watched, and its next fire time.

A policy is built (and validated) only when a pipeline's keys or its pause override
change, and the next fire time only when a fire time was handled, so a tick that finds
nothing due costs a comparison per pipeline.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from dataflow.schedule.policy import SchedulePolicy

log = logging.getLogger("dataflow.schedule")


@dataclass
class Entry:
    """Where one scheduled pipeline stands."""

    declared: SchedulePolicy            # as configured
    policy: SchedulePolicy              # what applies: the pause override applied
    started_at: datetime                # watched since (fire times before it never count)
    last_fired: datetime | None         # the newest fire time handled (fired or dropped)
    override: bool | None = None        # the stored pause override, if any
    next_fire: datetime | None = None

    def __post_init__(self):
        self.plan_next()

    @property
    def name(self) -> str:
        return self.policy.pipeline

    def plan_next(self) -> None:
        after = self.last_fired or self.started_at
        upcoming = self.policy.fire_times(after, count=1)
        self.next_fire = upcoming[0] if upcoming else None

    def handled(self, last_fired: datetime | None) -> None:
        """A decision was made: remember its `last_fired`, plan the next fire time."""
        if last_fired is not None:
            self.last_fired = last_fired
        self.plan_next()

    def apply(self, declared: SchedulePolicy, override: bool | None) -> None:
        """The pipeline's keys or its override changed: rebuild the policy, replan."""
        self.declared, self.override = declared, override
        self.policy = effective_policy(declared, override)
        self.plan_next()


def effective_policy(declared: SchedulePolicy, override: bool | None) -> SchedulePolicy:
    """The policy with a stored pause override (None: none) applied."""
    if override is None or override == declared.paused:
        return declared
    return replace(declared, paused=override)


def scheduled_pipelines(pipelines: Mapping) -> tuple[dict[str, SchedulePolicy], dict[str, list]]:
    """({name: policy} of every enabled pipeline with a schedule, {name: problems} of
    those whose schedule keys are invalid)."""
    policies, invalid = {}, {}
    for name, pipeline in pipelines.items():
        if not pipeline.enabled:
            continue
        policy, problems = SchedulePolicy.from_mapping(name, pipeline.schedule_keys())
        if problems:
            invalid[name] = problems
        elif policy is not None:
            policies[name] = policy
    return policies, invalid


class Roster:
    """The scheduled pipelines of one loop while it holds the lease."""

    def __init__(self):
        self.entries: dict[str, Entry] = {}
        self.invalid: dict[str, list] = {}
        self._keys: dict[str, tuple] = {}        # the keys each policy was built from
        self._seen: dict[str, object] = {}       # the Pipeline objects they were read from

    def reset(self) -> None:
        """Forget everything (the lease was lost): the store is read again on next sync."""
        self.entries.clear()
        self._keys.clear()
        self._seen.clear()

    def _policies(self, pipelines: Mapping) -> dict[str, SchedulePolicy]:
        """The declared policies, rebuilt only for pipelines whose keys changed."""
        keys = {}
        for name, pipeline in pipelines.items():     # Pipelines are frozen: same object, same keys
            if self._seen.get(name) is pipeline:
                if name in self._keys:
                    keys[name] = self._keys[name]
            elif pipeline.schedule and pipeline.enabled:
                keys[name] = tuple(pipeline.schedule_keys().items())
        self._seen = dict(pipelines)
        changed = {name: pipelines[name] for name, k in keys.items() if self._keys.get(name) != k}
        built, invalid = scheduled_pipelines(changed)
        for name, problems in invalid.items():
            if self.invalid.get(name) != problems:
                log.warning("pipeline %s is not scheduled: %s", name,
                            "; ".join(str(p) for p in problems))
        self.invalid = {**{n: p for n, p in self.invalid.items() if n in keys and n not in changed},
                        **invalid}
        self._keys = keys
        current = {name: e.declared for name, e in self.entries.items()
                   if name in keys and name not in changed}
        return {**current, **built}

    def sync(self, pipelines: Mapping, overrides: Mapping[str, bool],
             load_states: Callable[[list[str]], dict[str, dict]], now: datetime) -> list[str]:
        """Bring the entries in line with the pipelines and the pause overrides; new
        pipelines take their last fire and watch start from `load_states(names)` (the
        store), else start now. The names that are new and were never watched."""
        policies = self._policies(pipelines)
        for name in [n for n in self.entries if n not in policies]:
            del self.entries[name]
        new = [name for name in policies if name not in self.entries]
        states = load_states(new) if new else {}
        for name in new:
            state = states.get(name) or {}
            self.entries[name] = Entry(policies[name], effective_policy(
                policies[name], overrides.get(name)), state.get("watched_since") or now,
                state.get("last_fired"), overrides.get(name))
        for name, entry in self.entries.items():
            if entry.declared is not policies[name] or entry.override != overrides.get(name):
                entry.apply(policies[name], overrides.get(name))
        return [name for name in new if not (states.get(name) or {}).get("watched_since")]

    def due(self, now: datetime) -> list[Entry]:
        return [e for e in self.entries.values() if e.next_fire is not None and e.next_fire <= now]

    def due_at(self, when: datetime) -> list[str]:
        return [name for name, e in self.entries.items() if e.next_fire == when]

    def next_due(self) -> datetime | None:
        times = [e.next_fire for e in self.entries.values() if e.next_fire is not None]
        return min(times) if times else None
