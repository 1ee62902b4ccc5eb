"""Resolve a pipeline into a run plan: its hooks in order, the plugins of each, their config."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataflow.errors import ConfigError, PipelineNotFound
from dataflow.model import PlannedTask, RunPlan

if TYPE_CHECKING:
    from dataflow.project import Project


def plugins_for_hook(project: Project, pipeline: str, hook: str) -> list[str]:
    """The central hook map (YAML only) wins; otherwise plugins that declare the hook."""
    mapped = project.yaml_pipelines.hook_map.get(hook)
    if mapped is not None:
        return list(mapped)
    return [info.id for info in project.registry.select(pipeline=pipeline) if hook in info.hooks]


def build_plan(project: Project, pipeline_name: str) -> RunPlan:
    """Hooks → plugins → validated configs, read from the project and the store."""
    problems = project.file_problems() + project.registry.problems
    if problems:        # the same refusal as `dataflow validate`, for API callers too
        raise ConfigError(problems)
    pipelines = project.pipelines       # one read of the stored pipelines a plan
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
