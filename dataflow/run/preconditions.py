"""Whether a run may start (specs 002, 003): its gates are open and its upstream fresh.

    check_preconditions(project, P, force)   raises PreconditionUnmet naming the closed
                                             gate or the stale upstream (every face
                                             calls it before a run is recorded)
    gate_plugins(project, plan)              the plan without the plugins whose GATES
                                             include a closed gate, and those left out
    record_gated(recorder, run_id, ...)      those plugins' tasks recorded `skipped`

An upstream is fresh when its last completed run finished within the requiring
pipeline's `max_data_age` (else the upstream's own; with neither, any success counts).
`--force` overrides dependencies, never a closed gate. `--with-upstream` runs the
upstream in the same graph, so only the gates of the whole chain are checked.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from dataflow.alerts.absence import as_utc, parse_duration, span_text
from dataflow.config.dependencies import (dependency_graph, dependency_problems, providers,
                                          runners, upstream, upstream_chain)
from dataflow.errors import ConfigError, PipelineNotFound, PreconditionUnmet
from dataflow.model import RunPlan
from dataflow.statuses import TaskStatus
from dataflow.store.freshness import last_provided
from dataflow.store.gates import closed_gates

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline
    from dataflow.project import Project
    from dataflow.store.recorder import Recorder

DEPENDENCY_FIX = ("run the upstream first, or run it with `--with-upstream`; `--force` "
                  "(API: \"force\": true) starts it anyway")


def _unmet(pipeline: Pipeline, reason: str, fix: str) -> PreconditionUnmet:
    error = PreconditionUnmet(f"pipeline {pipeline.name!r} not started: {reason}; {fix}")
    error.reason, error.wait = reason, pipeline.on_unmet == "wait"
    return error


def gate_text(name: str, gate: dict) -> str:
    """"gate 'X' is closed (reason, by who)"."""
    why = ", ".join(part for part in (gate.get("reason"), gate.get("changed_by") and
                                      f"closed by {gate['changed_by']}") if part)
    return f"gate {name!r} is closed" + (f" ({why})" if why else "")


def _staleness(last: datetime | None, max_age: timedelta | None, now: datetime) -> str | None:
    """Why data last produced at `last` are not fresh enough (None: they are)."""
    if last is None:
        return "has never completed"
    age = now - as_utc(last)
    if max_age is not None and age > max_age:
        return (f"last completed {span_text(age)} ago ({as_utc(last):%Y-%m-%d %H:%M:%S} UTC), "
                f"older than max_data_age {span_text(max_age)}")
    return None


def stale_reason(project: Project, pipelines: dict[str, Pipeline], name: str,
                 now: datetime | None = None) -> str | None:
    """Why `name`'s upstream is not fresh (the first stale one), or None."""
    pipeline, provided = pipelines[name], providers(pipelines)
    needed = upstream(pipelines, name, provided)
    if not needed:
        return None
    last = last_provided(project.db, needed, runners(dependency_graph(pipelines), needed))
    now = now or datetime.now(timezone.utc)

    def why(up: str) -> str | None:
        own = parse_duration(pipeline.max_data_age) or parse_duration(pipelines[up].max_data_age)
        return _staleness(last[up], own, now)
    for dep in pipeline.depends_on:
        if dep in needed and why(dep):
            return f"upstream pipeline {dep!r} {why(dep)}"
    for asset in pipeline.requires:
        sources = [source for source in provided.get(asset, ()) if source != name]
        if sources and all(why(source) for source in sources):
            return (f"asset {asset!r} is not fresh: "
                    + "; ".join(f"pipeline {source!r} {why(source)}" for source in sources))
    return None


def check_preconditions(project: Project, pipeline: str, force: bool = False,
                        with_upstream: bool = False, now: datetime | None = None,
                        pipelines: dict[str, Pipeline] | None = None) -> None:
    """Refuse a run (PreconditionUnmet) whose gates are closed or, unless `force` or
    `with_upstream`, whose upstream is not fresh; ConfigError on a broken dependency
    graph (a cycle, an unknown pipeline or asset). `pipelines`: the project's, if read
    already. A pipeline with no gates and no upstream costs no query."""
    pipelines = project.pipelines if pipelines is None else pipelines
    if pipeline not in pipelines:
        raise PipelineNotFound(pipeline, list(pipelines))
    problems = dependency_problems(pipelines, project._pipelines_read[1], pipeline)
    if problems:
        raise ConfigError(problems)
    definition = pipelines[pipeline]
    chain = upstream_chain(pipelines, pipeline) if with_upstream else []
    gates = [gate for name in [*chain, pipeline] for gate in pipelines[name].gates]
    closed = closed_gates(project.db, gates)
    for gate in (g for g in gates if g in closed):
        raise _unmet(definition, gate_text(gate, closed[gate]),
                     f"open it with `dataflow gate open {gate}` (API: POST /api/gates/{gate}/open)")
    if not (force or with_upstream):
        reason = stale_reason(project, pipelines, pipeline, now)
        if reason:
            raise _unmet(definition, reason, DEPENDENCY_FIX)


def gate_plugins(project: Project, plan: RunPlan) -> tuple[RunPlan, list[dict]]:
    """(the plan without tasks whose plugin's GATES include a closed gate, [{task_id,
    hook, hook_index, plugin, gate, error}] of those left out)."""
    plugins = project.registry.plugins
    wanted = {task.plugin: plugins[task.plugin].gates for task in plan.tasks
              if task.plugin in plugins and plugins[task.plugin].gates}
    closed = closed_gates(project.db, [gate for gates in wanted.values() for gate in gates])
    if not closed:
        return plan, []
    gated, stages = [], []
    for stage in plan.stages:
        kept = []
        for task in stage:
            gate = next((g for g in wanted.get(task.plugin, ()) if g in closed), None)
            if gate is None:
                kept.append(task)
                continue
            gated.append({"task_id": task.task_id, "hook": task.hook, "plugin": task.plugin,
                          "hook_index": task.hook_index, "gate": gate,
                          "error": gate_text(gate, closed[gate])})
        stages.append(tuple(kept))
    return replace(plan, stages=tuple(stages)), gated


def record_gated(recorder: Recorder, run_id: str, pipeline: str, gated: list[dict]) -> None:
    """The left-out plugins' task records: skipped, saying which gate is closed."""
    for task in gated:
        recorder.record("tasks", f"{run_id}:{task['task_id']}", {
            "run_id": run_id, "pipeline": pipeline, "hook": task["hook"],
            "hook_index": task["hook_index"], "plugin": task["plugin"],
            "status": TaskStatus.SKIPPED, "error": task["error"], "gate": task["gate"]})
