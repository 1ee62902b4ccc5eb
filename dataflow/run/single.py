"""Run one plugin once, by itself, on given upstream inputs: `dataflow plugin test` and the
pytest helper `run_plugin` (dataflow/testing.py).

The plugin runs as a one-task run of the Engine, so it meets the real services: the
worker's context, its db and jobs, log capture, checkpoints, OUTPUT_SCHEMA, and the
run's history in the store (trigger "test"). `inputs` ({upstream plugin id: output})
reach it as `context["inputs"]`, handed to the task as completed upstream outcomes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow.config.layers import deep_merge
from dataflow.errors import ConfigValidationError, InvalidInput
from dataflow.model import Outcome, PlannedTask, RunPlan
from dataflow.run.graph import execute_task, task_key
from dataflow.statuses import TaskStatus
from dataflow.store.logs import read_logs

if TYPE_CHECKING:
    from dataflow.plugins.contract import PluginInfo
    from dataflow.run.result import RunHandle
    from dataflow.project import Project
    from dataflow.run.engine import Engine

TRIGGER = "test"
INPUT_HOOK = "input"       # the hook the given inputs are said to come from


def choose_pipeline(project: Project, info: PluginInfo) -> str:
    """The first pipeline the plugin names that exists, else the first pipeline."""
    pipelines = project.pipelines
    for name in info.pipelines:
        if name in pipelines:
            return name
    if not pipelines:
        raise InvalidInput(f"project {project.directory} has no pipeline to run plugin "
                           f"{info.id!r} in; define one in config/pipelines.yaml")
    return next(iter(pipelines))


def plugin_plan(project: Project, plugin_id: str, pipeline: str | None = None,
                hook: str | None = None, config: dict | None = None) -> RunPlan:
    """A plan of one task: the plugin in `hook` (default: its first HOOK) of `pipeline`
    (default: choose_pipeline), its effective config there with `config` merged in and
    checked against CONFIG_SCHEMA (ConfigValidationError names each field)."""
    info = project.registry.get(plugin_id)
    pipeline = pipeline or choose_pipeline(project, info)
    project.config.pipeline(pipeline)
    if config is not None and not isinstance(config, dict):
        raise ConfigValidationError(plugin_id, pipeline, [
            {"field": "(root)", "message": "the config must be a JSON object"}], saving=False)
    merged = deep_merge(project.config.effective_config(plugin_id, pipeline), config or {})
    project.config.check(plugin_id, pipeline, merged)
    hook = hook or (info.hooks[0] if info.hooks else TRIGGER)
    task = PlannedTask(hook, 0, plugin_id, info.ref, info.version, merged, info.fail_hard,
                       info.output_schema, info.priority, info.deadline, info.retry, None)
    return RunPlan(pipeline, (hook,), ((task,),))


def upstream(inputs: dict[str, Any] | None) -> list[Outcome]:
    """The inputs as the completed outcomes of upstream plugins."""
    if inputs is not None and not isinstance(inputs, dict):
        raise InvalidInput("inputs must map upstream plugin ids to their outputs "
                           f"({{'loader': data}}), got {type(inputs).__name__}")
    return [Outcome(str(name), INPUT_HOOK, TaskStatus.COMPLETED, output=value)
            for name, value in (inputs or {}).items()]


def start_plugin(engine: Engine, plan: RunPlan, inputs: dict[str, Any] | None = None) -> RunHandle:
    """Record and submit the one-task run `plan` with `inputs`; returns at once."""
    outcomes = upstream(inputs)
    handle = engine.start(plan.pipeline, TRIGGER, plan=plan, use_cache=False, submit=False,
                          run_fields={"test_inputs": sorted(map(str, inputs or {}))})
    task = plan.tasks[0]
    handle.futures = {task.task_id: engine.client.submit(
        execute_task, handle.env, task, *outcomes, key=task_key(handle.env, task), pure=False,
        retries=0)}
    return handle


@dataclass
class PluginRun:
    """What one run of one plugin did: status, output, error, its log records."""

    run_id: str
    plugin: str
    pipeline: str
    status: str
    config: dict
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    logs: list[dict] = field(default_factory=list)
    output_summary: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status == TaskStatus.COMPLETED

    def messages(self, level: str | None = None) -> list[str]:
        """The plugin's log messages (of one level, e.g. "INFO"), oldest first."""
        return [r["message"] for r in self.logs if level in (None, r.get("level"))]


def run_plugin_once(engine: Engine, plugin_id: str, inputs: dict[str, Any] | None = None,
                    config: dict | None = None, pipeline: str | None = None,
                    hook: str | None = None, timeout: float | None = 300) -> PluginRun:
    """Run one plugin once with these inputs (`{upstream plugin id: output}`) and config
    (merged over its effective config); what it did, its output fetched from the worker."""
    plan = plugin_plan(engine.project, plugin_id, pipeline, hook, config)
    result = engine.wait(start_plugin(engine, plan, inputs), timeout)
    task = plan.tasks[0]
    state = result.tasks[task.task_id]
    output = (result.futures[task.task_id].result(timeout=timeout).output
              if state["status"] == TaskStatus.COMPLETED else None)
    engine.project.recorder.flush()
    return PluginRun(result.run_id, plugin_id, plan.pipeline, state["status"], task.config,
                     output, state.get("error"), state.get("traceback"),
                     read_logs(engine.project.db, result.run_id),
                     state.get("output_summary"))
