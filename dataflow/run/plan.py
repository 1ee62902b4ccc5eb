"""Resolve a pipeline into a run plan: its hooks in order, the plugins of each, their config."""
from __future__ import annotations

from dataclasses import dataclass, field

from dataflow.errors import ConfigError, PipelineNotFound
from dataflow.plugins.loader import PluginRef


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


@dataclass(frozen=True)
class RunPlan:
    pipeline: str
    hooks: tuple[str, ...]
    stages: tuple[tuple[PlannedTask, ...], ...]     # one tuple of tasks per hook
    priority: str = "normal"

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


def plugins_for_hook(project, pipeline: str, hook: str) -> list[str]:
    """The central hook map (YAML only) wins; otherwise plugins that declare the hook."""
    mapped = project.yaml_spec.hook_map.get(hook)
    if mapped is not None:
        return list(mapped)
    return [info.id for info in project.registry.select(pipeline=pipeline) if hook in info.hooks]


def build_plan(project, pipeline_name: str) -> RunPlan:
    """Hooks → plugins → validated configs, read from the project and the store."""
    problems = project.file_problems() + project.registry.problems
    if problems:        # the same refusal as `dataflow validate`, for API callers too
        raise ConfigError(problems)
    pipelines = project.spec.pipelines       # one read of the stored pipelines a plan
    pipeline = pipelines.get(pipeline_name)
    if pipeline is None:
        raise PipelineNotFound(pipeline_name, list(pipelines))
    stored = project.config.stored_configs(pipeline_name)
    stages = []
    for index, hook in enumerate(pipeline.hooks):
        stage = []
        for plugin_id in plugins_for_hook(project, pipeline_name, hook):
            info = project.registry.get(plugin_id)
            config = project.config.effective_config(plugin_id, pipeline_name,
                                                     stored.get(plugin_id, {}))
            project.config.check(plugin_id, pipeline_name, config)
            stage.append(PlannedTask(hook, index, plugin_id, info.ref, info.version, config,
                                     info.fail_hard, info.output_schema, info.priority,
                                     info.deadline, info.retry, info.cache_ttl))
        stages.append(tuple(stage))
    return RunPlan(pipeline_name, pipeline.hooks, tuple(stages), pipeline.priority)
