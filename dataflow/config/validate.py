"""`dataflow validate`: every problem of a project, each located and with a fix."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataflow.config.dependencies import dependency_problems
from dataflow.config.layers import layer_sources, merge_layers
from dataflow.config.migrate import outdated_config_problems
from dataflow.errors import DataflowError, Problem, did_you_mean
from dataflow.config.schema_check import config_field_errors
from dataflow.config.pipelines import PIPELINES_FILE
from dataflow.run.plan import concerns, hook_problems, path_problems, unused_hook_warnings

if TYPE_CHECKING:
    from dataflow.config.stored_pipelines import PipelineView
    from dataflow.plugins.contract import PluginInfo
    from dataflow.project import Project


def _hook_map_problems(project: Project) -> list[Problem]:
    pipelines_file, document, _ = project._pipelines_read
    problems = []
    for hook, plugin_ids in pipelines_file.hook_map.items():
        for index, plugin_id in enumerate(plugin_ids):
            if plugin_id not in project.registry.plugins:
                known = ", ".join(sorted(project.registry.plugins)) or "none"
                problems.append(document.problem(
                    ("hooks", hook, index), f"hook {hook!r} maps to unknown plugin {plugin_id!r}",
                    f"use a loaded plugin id (known: {known}) or add the plugin"))
    return problems


def _pipeline_map_problems(project: Project) -> list[Problem]:
    """Plugin ids in a pipeline's own hook map (`hooks: {hook: [plugins]}`) must exist."""
    pipelines_file, document, _ = project._pipelines_read
    known = project.registry.plugins
    problems = []
    for name, pipeline in pipelines_file.pipelines.items():
        for hook, plugin_ids in pipeline.hook_plugins.items():
            for index, plugin_id in enumerate(plugin_ids):
                if plugin_id not in known:
                    problems.append(document.problem(
                        ("pipelines", name, "hooks", hook, index),
                        f"hook {hook!r} of pipeline {name!r} names unknown plugin "
                        f"{plugin_id!r}{did_you_mean(plugin_id, known)}",
                        f"use a loaded plugin id (known: {', '.join(sorted(known)) or 'none'})"))
    return problems


def _tag_problem(project: Project, key_path: tuple, tag: str, pipeline: str | None):
    """A hook map's tag that selects no plugin (in `pipeline`, for a pipeline's own map)."""
    if project.registry.select(tag, pipeline):
        return None
    known = sorted({t for info in project.registry.plugins.values() for t in info.tags})
    having = [info.id for info in project.registry.select(tag)]
    why = (f"its plugins ({', '.join(having)}) do not run in pipeline {pipeline!r}" if having
           else f"no plugin has it in TAGS{did_you_mean(tag, known)}")
    return project._pipelines_read[1].problem(
        key_path, f"tag {tag!r} of hook {key_path[-2]!r} selects no plugin: {why}",
        f"use a tag plugins declare (known: {', '.join(known) or 'none'}), or add it to a "
        "plugin's TAGS (with PIPELINES including the pipeline)")


def _tag_problems(project: Project) -> list[Problem]:
    """`hooks: {hook: {tags: [...]}}` entries (central and per pipeline) selecting nothing."""
    pipelines_file = project._pipelines_read[0]
    entries: list[tuple[tuple[str, ...], str, str | None]] = [
        (("hooks", hook, "tags"), tag, None)
        for hook, tags in pipelines_file.hook_tags.items() for tag in tags]
    entries += [(("pipelines", name, "hooks", hook, "tags"), tag, name)
                for name, pipeline in pipelines_file.pipelines.items()
                for hook, tags in pipeline.hook_tags.items() for tag in tags]
    found = [_tag_problem(project, path, tag, name) for path, tag, name in entries]
    return [problem for problem in found if problem is not None]


def _plugin_pipeline_problems(project: Project, pipelines: dict) -> list[Problem]:
    problems = []
    for info in project.registry.plugins.values():
        for name in info.pipelines:
            if name != "*" and name not in pipelines:
                problems.append(Problem(
                    project.registry.where[info.id], "PIPELINES",
                    f"plugin {info.id!r} names pipeline {name!r}, which does not exist",
                    f"define {name!r} in {PIPELINES_FILE} or remove it from PIPELINES"))
    return problems


def _config_problems(project: Project, pipelines: dict,
                     stored_by_pipeline: dict) -> list[Problem]:
    hook_map, manager = project._pipelines_read[0].hook_map, project.config
    problems = []
    for info in project.registry.plugins.values():
        for name, pipeline in pipelines.items():
            if not info.runs_in(name) and info.id not in _mapped(hook_map, pipeline):
                continue
            stored = stored_by_pipeline.get(name, {}).get(info.id, {})
            layers = manager.layers(info.id, name, stored)
            sources = layer_sources(layers)
            for error in config_field_errors(merge_layers(layers), info.config_schema):
                source = sources.get(error["field"].split(".")[0])
                problems.append(_config_problem(project, info, name, error, source == "stored"))
    return problems


def _config_problem(project: Project, info: PluginInfo, pipeline: str, error: dict,
                    stored: bool) -> Problem:
    if stored:
        where = "stored config"
        fix = (f"store a valid value with `dataflow config set {info.id} --pipeline {pipeline} "
               f"KEY=VALUE`, or restore an earlier version (`dataflow config history {info.id} "
               f"--pipeline {pipeline}`)")
    else:
        where = "default/YAML config"
        fix = (f"correct the default in CONFIG_SCHEMA or the plugin's config in {PIPELINES_FILE}")
    return Problem(project.registry.where[info.id], f"CONFIG_SCHEMA.{error['field']}",
                   f"{where} of plugin {info.id!r} for pipeline {pipeline!r} does not match "
                   f"CONFIG_SCHEMA: {error['message']}", fix)


def _mapped(hook_map, pipeline) -> set[str]:
    """Plugins a hook map puts in this pipeline: its own map first, then the central one."""
    return {pid for hook in pipeline.hooks
            for pid in pipeline.hook_plugins.get(hook, hook_map.get(hook, ()))}


def _store_state(project: Project) -> tuple[PipelineView | None, dict, list[Problem]]:
    """(pipeline view, stored config by pipeline, problems reaching the store)."""
    try:
        manager = project.config
        return manager.pipeline_view(), manager.all_stored_configs(), []
    except DataflowError as error:
        return None, {}, [Problem("config/system.yaml", "store", str(error),
                                  "start MongoDB or unset DATAFLOW_MONGO_URI")]


def _pipelines(project: Project, check_store: bool) -> tuple[dict, dict, list[Problem]]:
    settings_ok = not project._settings_read[2]
    view, stored, store_problems = (_store_state(project) if check_store and settings_ok
                                    else (None, {}, []))
    pipelines = view.pipelines_file.pipelines if view else project._pipelines_read[0].pipelines
    return pipelines, stored, store_problems


def project_problems(project: Project, check_store: bool = True,
                     pipeline: str | None = None) -> list[Problem]:
    """All problems that stop a run: YAML files, plugins, mapping, pipelines named by
    plugins, hooks (listed twice, run by no plugin), paths, configs (of YAML and stored
    pipelines). With `pipeline`, only the broken plugins and hooks that concern it."""
    problems = project.file_problems()
    if project._pipelines_read[2]:
        return problems + project.registry.problems
    pipelines, stored, store_problems = _pipelines(project, check_store)
    chosen = {pipeline: pipelines[pipeline]} if pipeline in pipelines else \
        ({} if pipeline else dict(pipelines))
    problems += [p for p in project.registry.problems if pipeline is None
                 or pipeline not in chosen or concerns(project, p, pipeline, chosen[pipeline])]
    problems += (_hook_map_problems(project) + _pipeline_map_problems(project)
                 + _tag_problems(project) + _plugin_pipeline_problems(project, pipelines)
                 + dependency_problems(pipelines, project._pipelines_read[1], pipeline))
    for name, definition in chosen.items():
        problems += hook_problems(project, str(name), definition)
    problems += [] if project._settings_read[2] else path_problems(project)
    return problems + store_problems + _config_problems(project, pipelines, stored)


def project_warnings(project: Project, check_store: bool = True) -> list[Problem]:
    """What `validate` reports without failing: plugin hooks no pipeline runs."""
    if project._pipelines_read[2] or project._settings_read[2]:
        return []
    return unused_hook_warnings(project, _pipelines(project, check_store)[0]) + (
        _outdated_config_warnings(project) if check_store else [])


def _outdated_config_warnings(project: Project) -> list[Problem]:
    """Stored configs saved under an older major VERSION of their plugin (config/migrate.py);
    an unreachable store is reported by project_problems already."""
    try:
        return outdated_config_problems(project.config)
    except DataflowError:
        return []


def stored_pipeline_problems(project: Project) -> list[Problem]:
    """Stored pipelines that are ignored: YAML defines the name too, or they are invalid.
    They do not stop runs (the YAML definition, or nothing, is used); validate reports them."""
    if project._pipelines_read[2] or project._settings_read[2]:
        return []
    view, _, problems = _store_state(project)
    if view is None:
        return []
    document = project._pipelines_read[1]
    for name in view.shadowed:
        problems.append(document.problem(
            ("pipelines", name), f"pipeline {name!r} is defined in both {PIPELINES_FILE} and "
            f"the database (collection 'pipelines'); the YAML definition is used",
            f"delete the stored one with `dataflow pipelines delete {name}`, or remove "
            f"{name!r} from {PIPELINES_FILE} to use the stored one"))
    for name, errors in view.invalid.items():
        details = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        problems.append(Problem(
            "database", f"pipelines.{name}", f"stored pipeline {name!r} is invalid and is "
            f"ignored: {details}", f"correct it with `dataflow pipelines update {name} ...` or "
            f"delete it with `dataflow pipelines delete {name}`"))
    return problems
