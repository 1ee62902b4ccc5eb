"""What starting a run writes and builds: its environment and its first history records."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import psutil

from dataflow.model import RunEnv, RunPlan
from dataflow.statuses import RunStatus, TaskStatus
from dataflow.store.connection import checkpoint_mode

if TYPE_CHECKING:
    from dataflow.project import Project
    from dataflow.run.result import RunHandle
    from dataflow.store.recorder import Recorder

_PROCESS_STARTED = psutil.Process().create_time()


def new_env(project: Project, plan: RunPlan, run_id: str, use_cache: bool = True,
            trigger: str = "api", logical_time: datetime | None = None) -> RunEnv:
    settings = project.settings
    return RunEnv(run_id, plan.pipeline, str(project.directory), project.store,
                  datetime.now(timezone.utc), priority=plan.priority,
                  log_level=settings.log_level,
                  checkpoints=checkpoint_mode(settings.checkpoints, project.store),
                  use_cache=use_cache, retry=dict(settings.retry), trigger=trigger,
                  logical_time=logical_time)


def record_start(recorder: Recorder, handle: RunHandle, trigger: str,
                 resumed_from: str | None = None, fields: dict | None = None) -> None:
    """The run (status running, who orchestrates it, and `fields` such as a scheduled
    run's logical time or one-off overrides) and one pending record per task."""
    env, plan = handle.env, handle.plan
    recorder.record("runs", handle.run_id, {
        "pipeline": env.pipeline, "trigger": trigger, "status": RunStatus.RUNNING,
        "started": env.start_time, "hooks": list(plan.hooks), "priority": plan.priority,
        "host": socket.gethostname(), "pid": os.getpid(), "pid_started": _PROCESS_STARTED,
        "heartbeat": env.start_time, "project": env.project_dir, "resumed_from": resumed_from,
        "use_cache": env.use_cache, **(fields or {})})
    for task in plan.tasks:
        recorder.record("tasks", f"{handle.run_id}:{task.task_id}", {
            "run_id": handle.run_id, "pipeline": env.pipeline, "hook": task.hook,
            "hook_index": task.hook_index, "plugin": task.plugin, "status": TaskStatus.PENDING,
            "plugin_version": task.version, "source_hash": task.ref.source_hash,
            "config": task.config, "fail_hard": task.fail_hard, "mode": task.mode})
