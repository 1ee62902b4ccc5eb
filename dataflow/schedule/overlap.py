"""What a due fire time does while runs of the same pipeline are still active: the
`overlap` and `max_active_runs` rules of `SchedulePolicy`, as one pure decision.

With fewer active runs than the limit (`SchedulePolicy.active_run_limit`; None means
no limit) the run starts. At the limit:

    skip            skip: the fire time is recorded as skipped with the reason
    queue           queue: the caller keeps the fire time and asks again when a run ends
    cancel_running  cancel_running: cancel the `cancel` oldest active runs, then start
    allow           skip, like "skip" (reached only when `max_active_runs` is set)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dataflow.schedule.policy import Overlap, SchedulePolicy
from dataflow.statuses import ACTIVE_RUN_STATUSES, RunStatus


class OverlapAction(StrEnum):
    """What to do with a due fire time (an action, not a run status)."""

    START = "start"
    SKIP = "skip"
    QUEUE = "queue"
    CANCEL_RUNNING = "cancel_running"


_AT_LIMIT = {Overlap.SKIP: OverlapAction.SKIP, Overlap.QUEUE: OverlapAction.QUEUE,
             Overlap.CANCEL_RUNNING: OverlapAction.CANCEL_RUNNING,
             Overlap.ALLOW: OverlapAction.SKIP}


@dataclass(frozen=True)
class OverlapDecision:
    """The action for one due fire time, why, and (for cancel_running) how many of the
    oldest active runs to cancel first."""

    action: OverlapAction
    reason: str
    cancel: int = 0


def count_active_runs(statuses: Iterable[RunStatus | str]) -> int:
    """How many of these run statuses are still active (running)."""
    return sum(1 for status in statuses if status in ACTIVE_RUN_STATUSES)


def overlap_action(policy: SchedulePolicy, active_runs: int) -> OverlapDecision:
    """Start, skip, queue or cancel the running ones, for a fire time due while
    `active_runs` runs of the pipeline are active."""
    limit = policy.active_run_limit
    if limit is None or active_runs < limit:
        shown = "no limit" if limit is None else f"max_active_runs: {limit}"
        return OverlapDecision(OverlapAction.START, f"{active_runs} active run(s), {shown}")
    action = _AT_LIMIT[policy.overlap]
    reason = (f"{active_runs} run(s) still active, max_active_runs: {limit} "
              f"(overlap: {policy.overlap})")
    cancel = active_runs - limit + 1 if action == OverlapAction.CANCEL_RUNNING else 0
    return OverlapDecision(action, reason, cancel)
