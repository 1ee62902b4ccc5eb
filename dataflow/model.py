"""The values passed between the orchestrating process and the workers (all pickle).

    RunPlan      a pipeline resolved into hooks → tasks, each with its config
    PlannedTask  one (hook, plugin) task with everything a worker needs to run it
    RunEnv       what every task of one run shares (ids, store, settings)
    Outcome      what one task produced: its status, its output, and why it failed
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dataflow.statuses import TaskStatus

if TYPE_CHECKING:
    from dataflow.plugins.loader import PluginRef
    from dataflow.store.connection import StoreAddress


# Dask priorities of the named levels (pipelines, plugins and jobs may also give integers).
PRIORITY_VALUES = {"low": -10, "normal": 0, "high": 10, "critical": 20}


def priority_value(priority: str | int | None) -> int:
    if isinstance(priority, int):
        return priority
    try:
        return PRIORITY_VALUES[priority or "normal"]
    except KeyError:
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_VALUES)} "
                         f"or an integer, got {priority!r}") from None


@dataclass(frozen=True)
class RunEnv:
    """What every task of a run shares; small and picklable."""

    run_id: str
    pipeline: str
    project_dir: str
    store: StoreAddress
    start_time: datetime
    priority: str = "normal"
    log_level: str = "INFO"
    checkpoints: str = "files"          # files | gridfs | off (see worker/checkpoints.py)
    use_cache: bool = True
    retry: dict = field(default_factory=dict)   # the central retry policy
    trigger: str = "api"                # cli | api | ui | schedule | resume | notebook
    logical_time: datetime | None = None  # a scheduled run: the fire time it stands for

    def __dask_tokenize__(self) -> tuple:
        # Dask tokenizes every graph it is given; walking (and pickling) every field of
        # every task cost ~3 ms a run. A run id is unique: it names the value.
        return ("RunEnv", self.run_id)


@dataclass(frozen=True)
class PlannedTask:
    """One (hook, plugin) task of a run, with everything a worker needs to run it."""

    hook: str
    hook_index: int
    plugin: str
    ref: PluginRef
    version: str
    config: dict = field(compare=False)
    fail_hard: bool = False
    output_schema: dict | None = field(default=None, compare=False)
    priority: str | None = None
    deadline: float | None = None      # seconds; past it the task is stopped as timed_out
    retry: dict = field(default_factory=dict, compare=False)   # the plugin's RETRY
    cache_ttl: float | None = None     # CACHE = {"ttl": s}: reuse outputs this long
    mode: str = "run"                  # run | restore (from a checkpoint) | skip (resume)
    restore: dict | None = field(default=None, compare=False)  # checkpoint reference

    @property
    def task_id(self) -> str:
        return f"{self.hook}.{self.plugin}"

    def __dask_tokenize__(self) -> tuple:
        # cheap, as RunEnv's: within a run (whose id is in every key) these name it
        return ("PlannedTask", self.hook, self.plugin, self.mode, self.version,
                self.ref.source_hash)


@dataclass(frozen=True)
class RunPlan:
    """A pipeline resolved for one run: its hooks in order and the tasks of each."""

    pipeline: str
    hooks: tuple[str, ...]
    stages: tuple[tuple[PlannedTask, ...], ...]     # one tuple of tasks per hook
    priority: str = "normal"
    atomic: bool = False        # a fail-hard failure rolls the run back (run/atomic.py)

    @property
    def tasks(self) -> list[PlannedTask]:
        return [task for stage in self.stages for task in stage]

    def describe(self) -> dict:
        """The plan as plain data (dry run, API)."""
        return {"pipeline": self.pipeline, "priority": self.priority, "hooks": [
            {"hook": hook, "plugins": [
                {"id": t.plugin, "version": t.version, "fail_hard": t.fail_hard,
                 "config": t.config} for t in stage]}
            for hook, stage in zip(self.hooks, self.stages)]}


@dataclass
class Outcome:
    """Returned by a task on the worker; downstream tasks read `output` from it."""

    plugin: str
    hook: str
    status: TaskStatus
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    stops_pipeline: bool = False          # a fail-hard failure or a fatal log
    started: float | None = None
    finished: float | None = None
    worker: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == TaskStatus.COMPLETED

    def meta(self) -> dict:
        """Everything but the output: what the history and the CLI need."""
        return {"plugin": self.plugin, "hook": self.hook, "status": TaskStatus(self.status).value,
                "error": self.error, "traceback": self.traceback,
                "stops_pipeline": self.stops_pipeline, "started": self.started,
                "finished": self.finished, "worker": self.worker, **self.extra}
