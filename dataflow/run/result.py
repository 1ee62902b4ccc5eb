"""What a caller holds for a run: a handle while it runs, a result when it is done."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from distributed import Future

from dataflow.model import RunEnv, RunPlan
from dataflow.statuses import RunStatus, TaskStatus

if TYPE_CHECKING:
    from dataflow.run.state import RunState


@dataclass
class RunHandle:
    """A started run: its id, plan, futures (one per task) and run state."""

    run_id: str
    plan: RunPlan
    env: RunEnv
    futures: dict[str, Future]
    state: RunState
    started: float = 0.0


@dataclass
class RunResult:
    """A finished run. `output(plugin)` fetches one plugin's output from the workers."""

    run_id: str
    pipeline: str
    status: str
    duration: float
    tasks: dict
    error: str | None = None
    futures: dict[str, Future] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.COMPLETED

    def output(self, plugin: str, hook: str | None = None, timeout: float | None = None) -> Any:
        """The output of `plugin` (in `hook`, when it runs in several) from this run,
        fetched from the worker that holds it (within `timeout` seconds)."""
        for task_id, future in self.futures.items():
            task_hook, _, task_plugin = task_id.partition(".")
            if task_plugin == plugin and hook in (None, task_hook):
                outcome = future.result(timeout=timeout)
                if not outcome.ok:
                    raise ValueError(f"plugin {plugin!r} has no output: {outcome.status} "
                                     f"({outcome.error})")
                return outcome.output
        raise KeyError(f"plugin {plugin!r} did not run in run {self.run_id}")

    def outputs(self, timeout: float | None = None) -> dict:
        """Every successful task's output, by task id (hook.plugin)."""
        return {task_id: future.result(timeout=timeout).output for task_id, future in self.futures.items()
                if self.tasks[task_id]["status"] == TaskStatus.COMPLETED}
