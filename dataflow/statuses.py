"""Every status a task or a run can have, and the sets the engine reasons with.

Both enums are `StrEnum`s: a member equals its string (`TaskStatus.FAILED == "failed"`),
so records in the store and JSON output keep the plain words, and code compares
against members instead of literals.

    task:  pending → running → completed | failed | skipped | cancelled | timed_out
           (interrupted when its orchestrator died; rolled_back | rollback_failed
           when a failure, or an atomic run's failure, was undone: worker/undo.py)
    run:   running → completed | completed_with_errors | failed | cancelled | interrupted
"""
from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    ROLLED_BACK = "rolled_back"           # it failed (or its atomic run did) and was undone
    ROLLBACK_FAILED = "rollback_failed"   # ... and undoing it failed too (both errors kept)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


# A task in one of these will not change any more (within its run).
FINAL_TASK_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED,
                                 TaskStatus.CANCELLED, TaskStatus.TIMED_OUT,
                                 TaskStatus.INTERRUPTED, TaskStatus.ROLLED_BACK,
                                 TaskStatus.ROLLBACK_FAILED})
UNFINISHED_TASK_STATUSES = frozenset({TaskStatus.PENDING, TaskStatus.RUNNING})
# Task failures that a resume with --failed-only runs again.
# Rolled back counts as failed: the run's status says so, and --failed-only runs it again.
FAILED_TASK_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.TIMED_OUT,
                                  TaskStatus.ROLLED_BACK, TaskStatus.ROLLBACK_FAILED})
# A task whose effects were undone (or tried to be): worker/undo.py, run/atomic.py.
UNDONE_TASK_STATUSES = frozenset({TaskStatus.ROLLED_BACK, TaskStatus.ROLLBACK_FAILED})
# Why a task was stopped from outside: a cancel request or its deadline.
STOP_REASONS = frozenset({TaskStatus.CANCELLED, TaskStatus.TIMED_OUT})

ACTIVE_RUN_STATUSES = frozenset({RunStatus.RUNNING})
FINAL_RUN_STATUSES = frozenset(set(RunStatus) - {RunStatus.RUNNING})
RESUMABLE_RUN_STATUSES = (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED,
                          RunStatus.COMPLETED_WITH_ERRORS)     # in the order messages list them
# A run in one of these did not do everything it was asked to.
UNSUCCESSFUL_RUN_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED,
                                       RunStatus.INTERRUPTED, RunStatus.COMPLETED_WITH_ERRORS})
