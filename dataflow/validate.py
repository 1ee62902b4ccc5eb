"""`dataflow validate`: every problem of a project, each located and with a fix."""
from __future__ import annotations

from dataflow.config_layers import layered_config
from dataflow.errors import DataflowError, Problem
from dataflow.schema_check import config_field_errors
from dataflow.spec import PIPELINES_FILE


def _hook_map_problems(project) -> list[Problem]:
    spec, document, _ = project._spec_read
    problems = []
    for hook, plugin_ids in spec.hook_map.items():
        for index, plugin_id in enumerate(plugin_ids):
            if plugin_id not in project.registry.plugins:
                known = ", ".join(sorted(project.registry.plugins)) or "none"
                problems.append(document.problem(
                    ("hooks", hook, index), f"hook {hook!r} maps to unknown plugin {plugin_id!r}",
                    f"use a loaded plugin id (known: {known}) or add the plugin"))
    return problems


def _plugin_pipeline_problems(project) -> list[Problem]:
    pipelines = project._spec_read[0].pipelines
    problems = []
    for info in project.registry.plugins.values():
        for name in info.pipelines:
            if name != "*" and name not in pipelines:
                problems.append(Problem(
                    project.registry.where[info.id], "PIPELINES",
                    f"plugin {info.id!r} names pipeline {name!r}, which does not exist",
                    f"define {name!r} in {PIPELINES_FILE} or remove it from PIPELINES"))
    return problems


def _config_problems(project, stored_by_pipeline: dict) -> list[Problem]:
    spec = project._spec_read[0]
    problems = []
    for info in project.registry.plugins.values():
        for name, pipeline in spec.pipelines.items():
            if not info.runs_in(name) and info.id not in _mapped(spec, pipeline):
                continue
            stored = stored_by_pipeline.get(name, {}).get(info.id, {})
            config = layered_config(info.config_schema, spec.plugin_config.get(info.id, {}),
                                    pipeline.plugin_config.get(info.id, {}), stored)
            for error in config_field_errors(config, info.config_schema):
                problems.append(_config_problem(project, info, name, error, bool(stored)))
    return problems


def _config_problem(project, info, pipeline: str, error: dict, stored: bool) -> Problem:
    if stored:
        where = "stored config"
        fix = (f"store a valid config (document '{info.id}:{pipeline}' of the plugin_configs "
               "collection), or correct CONFIG_SCHEMA")
    else:
        where = "default/YAML config"
        fix = (f"correct the default in CONFIG_SCHEMA or the plugin's config in {PIPELINES_FILE}")
    return Problem(project.registry.where[info.id], f"CONFIG_SCHEMA.{error['field']}",
                   f"{where} of plugin {info.id!r} for pipeline {pipeline!r} does not match "
                   f"CONFIG_SCHEMA: {error['message']}", fix)


def _mapped(spec, pipeline) -> set[str]:
    return {pid for hook in pipeline.hooks for pid in spec.hook_map.get(hook, ())}


def _stored_configs(project) -> tuple[dict, list[Problem]]:
    try:
        manager = project.config
        return {name: manager.stored_configs(name) for name in project.spec.pipelines}, []
    except DataflowError as error:
        return {}, [Problem("config/system.yaml", "store", str(error),
                            "start MongoDB or unset DATAFLOW_MONGO_URI")]


def project_problems(project, check_store: bool = True) -> list[Problem]:
    """All problems: YAML files, plugins, mapping, pipelines named by plugins, configs."""
    problems = project.file_problems()
    problems += project.registry.problems
    if project._spec_read[2]:
        return problems
    problems += _hook_map_problems(project) + _plugin_pipeline_problems(project)
    settings_ok = not project._settings_read[2]
    stored, store_problems = _stored_configs(project) if check_store and settings_ok else ({}, [])
    return problems + store_problems + _config_problems(project, stored)
