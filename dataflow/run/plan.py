"""Resolve a pipeline into a run plan: its hooks in order, the plugins of each, their config."""
from __future__ import annotations

from typing import TYPE_CHECKING

from collections import Counter
from dataclasses import replace

from dataflow.config.pipelines import PIPELINES_FILE
from dataflow.errors import ConfigError, PipelineNotFound, Problem, did_you_mean
from dataflow.model import PlannedTask, RunPlan
from dataflow.plugins.command_plugin import command_config

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline
    from dataflow.project import Project


def plugins_for_hook(project: Project, pipeline: str, hook: str,
                     definition: Pipeline | None = None) -> list[str]:
    """Who runs `hook` in `pipeline`: the pipeline's own hook map, else the central hook
    map (YAML only), else the plugins whose HOOKS and PIPELINES declare it."""
    if definition is None:
        definition = project.pipelines.get(pipeline)
    if definition is not None and hook in definition.hook_plugins:
        return tagged(project, pipeline, definition.hook_plugins[hook],
                      definition.hook_tags.get(hook, ()))
    mapped = project.yaml_pipelines.hook_map.get(hook)
    if mapped is not None:
        return tagged(project, pipeline, mapped, project.yaml_pipelines.hook_tags.get(hook, ()))
    return [info.id for info in project.registry.select(pipeline=pipeline) if hook in info.hooks]


def tagged(project: Project, pipeline: str, names, tags) -> list[str]:
    """A hook map's entry: its plugins by name, then those whose TAGS have one of `tags`
    and whose PIPELINES include `pipeline` (by id), each once."""
    chosen = [info.id for tag in tags for info in project.registry.select(tag, pipeline)]
    return list(dict.fromkeys([*names, *sorted(set(chosen))]))


def plugins_in_pipeline(project: Project, pipeline_name: str) -> list[str]:
    """Every plugin a run of the pipeline would run, hook by hook (what a dry run shows)."""
    pipelines = project.pipelines
    pipeline = pipelines.get(pipeline_name)
    if pipeline is None:
        raise PipelineNotFound(pipeline_name, list(pipelines))
    return [plugin_id for hook in pipeline.hooks
            for plugin_id in plugins_for_hook(project, pipeline_name, hook, pipeline)]


def _serves(project: Project, declared: dict, name: str, pipeline: Pipeline) -> bool:
    """Whether a plugin that failed to load would run in the pipeline; True when its
    source does not say (then every run is refused, as nothing tells which it serves)."""
    plugin_id, hooks, names = (declared.get(key) for key in ("PLUGIN_NAME", "HOOKS", "PIPELINES"))
    central = project.yaml_pipelines.hook_map
    mapped = {pid for hook in pipeline.hooks
              for pid in pipeline.hook_plugins.get(hook, central.get(hook, ()))}
    if isinstance(plugin_id, str) and plugin_id in mapped:
        return True
    if isinstance(names, list) and "*" not in names and name not in names:
        return False
    if not isinstance(hooks, list):
        return True
    return any(hook in hooks for hook in pipeline.hooks
               if hook not in pipeline.hook_plugins and hook not in central)


def concerns(project: Project, problem: Problem, name: str, pipeline: Pipeline) -> bool:
    """Whether a plugin problem stops runs of this pipeline (a broken plugin stops only
    the pipelines it serves)."""
    declared = project.registry.broken.get(problem.file)
    return declared is None or _serves(project, declared, name, pipeline)


def _hooks_problem(project: Project, name: str, pipeline: Pipeline, message: str,
                   fix: str) -> Problem:
    if pipeline.source != "yaml":
        return Problem("database", f"pipelines.{name}.hooks", message, fix)
    return project._pipelines_read[1].problem(("pipelines", name, "hooks"), message, fix)


def hook_problems(project: Project, name: str, pipeline: Pipeline) -> list[Problem]:
    """A hook listed twice (Dask would find a cycle) or run by no plugin (a typo)."""
    problems = [_hooks_problem(
        project, name, pipeline, f"pipeline {name!r} lists hook {hook!r} {count} times",
        f"list each hook once in pipeline {name!r}")
        for hook, count in Counter(pipeline.hooks).items() if count > 1]
    known = {h for info in project.registry.plugins.values() for h in info.hooks}
    known |= set(project.yaml_pipelines.hook_map)
    broken_hooks = {h for declared in project.registry.broken.values()
                    if isinstance(declared.get("HOOKS"), list) for h in declared["HOOKS"]}
    for hook in dict.fromkeys(pipeline.hooks):
        if hook in broken_hooks or plugins_for_hook(project, name, hook, pipeline):
            continue
        problems.append(_hooks_problem(
            project, name, pipeline, f"hook {hook!r} of pipeline {name!r} is run by no "
            f"plugin{did_you_mean(hook, known - {hook})}", "correct the hook's name, or give "
            f"a plugin HOOKS = [{hook!r}] (with PIPELINES including {name!r}), or map it "
            f"under `hooks:` in {PIPELINES_FILE}"))
    return problems


def unused_hook_warnings(project: Project, pipelines: dict[str, Pipeline]) -> list[Problem]:
    """A loaded plugin's HOOKS entry that no pipeline runs it for: a warning."""
    used = {(pid, hook) for name, pipeline in pipelines.items() for hook in pipeline.hooks
            for pid in plugins_for_hook(project, name, hook, pipeline)}
    return [Problem(project.registry.where[info.id], "HOOKS",
                    f"plugin {info.id!r} declares hook {hook!r}, but no pipeline runs it "
                    "there, so it never runs for that hook", f"add {hook!r} to a pipeline's "
                    f"hooks in {PIPELINES_FILE}, or remove it from HOOKS", warning=True)
            for info in project.registry.plugins.values() for hook in info.hooks
            if (info.id, hook) not in used]


def path_problems(project: Project) -> list[Problem]:
    """Folders named by settings must stay inside the project."""
    settings, document, _ = project._settings_read
    root = project.directory.resolve()
    logs = (root / settings.log_directory).resolve()
    if logs == root or root in logs.parents:
        return []
    return [document.problem(("logging", "directory"), f"logging.directory "
                             f"{settings.log_directory!r} is outside the project ({logs})",
                             "use a folder inside the project, e.g. `logs`")]


def pipeline_problems(project: Project, name: str, pipeline: Pipeline) -> list[Problem]:
    """What stops a run of this pipeline: its plugins' problems, its hooks, paths."""
    return ([p for p in project.registry.problems      # warnings: e.g. serving last good
             if not p.warning and concerns(project, p, name, pipeline)]
            + hook_problems(project, name, pipeline) + path_problems(project))


def build_plan(project: Project, pipeline_name: str, pipelines: dict | None = None,
               stored: dict | None = None) -> RunPlan:
    """Hooks → plugins → validated configs, read from the project and the store
    (`pipelines`, `stored`: the project's pipelines and this pipeline's stored configs,
    when read already, e.g. once for a burst of runs: run/batch_trigger.py)."""
    problems = project.file_problems()
    if problems:        # the same refusal as `dataflow validate`, for API callers too
        raise ConfigError(problems)
    pipelines = project.pipelines if pipelines is None else pipelines   # one read a plan
    pipeline = pipelines.get(pipeline_name)
    if pipeline is None:
        raise PipelineNotFound(pipeline_name, list(pipelines))
    problems = pipeline_problems(project, pipeline_name, pipeline)
    if problems:
        raise ConfigError(problems)
    stored = project.config.stored_configs(pipeline_name) if stored is None else stored
    stages = []
    for index, hook in enumerate(pipeline.hooks):
        stage = []
        for plugin_id in plugins_for_hook(project, pipeline_name, hook, pipeline):
            info = project.registry.get(plugin_id)
            config = project.config.effective_config(plugin_id, pipeline_name,
                                                     stored.get(plugin_id, {}))
            project.config.check(plugin_id, pipeline_name, config)
            config = command_config(project, pipeline_name, info, config)   # its env layers
            stage.append(PlannedTask(hook, index, plugin_id, info.ref, info.version, config,
                                     info.fail_hard, info.output_schema, info.priority,
                                     info.deadline, info.retry, info.cache_ttl))
        stages.append(tuple(stage))
    return RunPlan(pipeline_name, pipeline.hooks, tuple(stages), pipeline.priority,
                   pipeline.atomic)


def chain_plan(project: Project, pipeline_name: str, chain: list[str]) -> RunPlan:
    """`dataflow run P --with-upstream`: the plans of `chain` (P's upstream pipelines, in
    run order), then P's own, as successive stages of one plan, so one Dask graph runs
    them in order. An upstream's hooks are named "<upstream>.<hook>" and its tasks are
    fail-hard: a failed upstream stops the chain before stale data reach P."""
    plans = [build_plan(project, name) for name in [*chain, pipeline_name]]
    hooks: list[str] = []
    stages: list[tuple[PlannedTask, ...]] = []
    for plan in plans:
        upstream = plan.pipeline != pipeline_name
        for hook, stage in zip(plan.hooks, plan.stages):
            name, index = (f"{plan.pipeline}.{hook}" if upstream else hook), len(hooks)
            hooks.append(name)
            stages.append(tuple(replace(task, hook=name, hook_index=index,
                                        fail_hard=task.fail_hard or upstream)
                                for task in stage))
    return RunPlan(pipeline_name, tuple(hooks), tuple(stages), plans[-1].priority,
                   plans[-1].atomic)
