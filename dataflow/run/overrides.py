"""One-off changes to a plan: config overrides for one run, and running only some plugins.

Both are checked before anything is recorded or submitted: an override is merged into the
plugin's effective config and validated against its CONFIG_SCHEMA (a bad value is an
InvalidInput naming the field); an unknown plugin id is a NotFound with the known ones.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from dataflow.config.layers import deep_merge
from dataflow.config.schema_check import config_field_errors
from dataflow.errors import InvalidInput, PluginNotFound, Problem
from dataflow.model import RunPlan

if TYPE_CHECKING:
    from dataflow.project import Project


def _known(plan: RunPlan) -> str:
    return ", ".join(sorted({task.plugin for task in plan.tasks})) or "none"


def _check_override(project: Project, pipeline: str, plugin: str, config: dict) -> None:
    errors = config_field_errors(config, project.registry.get(plugin).config_schema)
    if errors:
        lines = "\n".join(f"  - {plugin}.{e['field']}: {e['message']}" for e in errors)
        raise InvalidInput(f"the config override for plugin {plugin!r} in pipeline {pipeline!r} "
                           f"is invalid (nothing ran):\n{lines}\nfix: correct the override "
                           "(--set / --config, or the trigger's overrides) and try again",
                           [Problem("overrides", f"{plugin}.{e['field']}", e["message"])
                            for e in errors])


def apply_overrides(project: Project, plan: RunPlan, overrides: dict[str, dict]) -> RunPlan:
    """The plan with `overrides` ({plugin id: {field: value}}) merged into task configs."""
    if not overrides:
        return plan
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise InvalidInput("overrides must map plugin ids to objects of config fields, e.g. "
                           '{"technical_indicators": {"sma_window": 50}}')
    unknown = sorted(set(overrides) - {task.plugin for task in plan.tasks})
    if unknown:
        raise PluginNotFound(unknown[0], f"in pipeline {plan.pipeline!r} (its plugins: "
                             f"{_known(plan)}); overrides name plugins of the pipeline",
                             [task.plugin for task in plan.tasks])
    stages = []
    for stage in plan.stages:
        changed = []
        for task in stage:
            config = deep_merge(task.config, overrides.get(task.plugin, {}))
            _check_override(project, plan.pipeline, task.plugin, config)
            changed.append(dataclasses.replace(task, config=config))
        stages.append(tuple(changed))
    return dataclasses.replace(plan, stages=tuple(stages))


def select_plugins(plan: RunPlan, plugin_ids: list[str]) -> RunPlan:
    """A plan running only these plugins (in their hooks' order); hooks left empty go."""
    if not plugin_ids:
        return plan
    unknown = sorted(set(plugin_ids) - {task.plugin for task in plan.tasks})
    if unknown:
        raise PluginNotFound(unknown[0], f"in pipeline {plan.pipeline!r} (its plugins: "
                             f"{_known(plan)})", [task.plugin for task in plan.tasks])
    hooks, stages = [], []
    for hook, stage in zip(plan.hooks, plan.stages):
        kept = tuple(task for task in stage if task.plugin in plugin_ids)
        if kept:
            hooks.append(hook)
            stages.append(kept)
    return dataclasses.replace(plan, hooks=tuple(hooks), stages=tuple(stages))

