"""`dataflow run PIPELINE`: validate, plan, run on Dask with live progress, summarise.

With a `dataflow serve` running for the project, the run is handed to it (its warm
cluster, its CPU governor, visible live in the control panel); `--local` runs it in
this process instead, as with no server.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click
import yaml

from dataflow.cli.common import (EXIT_CODES, console, handles_errors, open_project, print_json,
                                 project_option, seconds, styled)
from dataflow.cli.config_values import parse_assignments, parse_file
from dataflow.cli import phases
from dataflow.config.dependencies import upstream_chain
from dataflow.config.layers import deep_merge
from dataflow.config.validate import project_problems
from dataflow.errors import ConfigError
from dataflow.model import RunPlan
from dataflow.store.bounds import console_text
from dataflow.outputs import describe, describe_writes
from dataflow.plugins.command_plugin import env_overrides, parse_env
from dataflow.run.overrides import apply_overrides
from dataflow.run.plan import build_plan, chain_plan
from dataflow.statuses import RunStatus, TaskStatus
from dataflow.web.discovery import find_server

DEFAULT_PIPELINE = "default"


def print_plan(plan: RunPlan) -> None:
    description = plan.describe()
    console.print(f"[bold]Dry run of pipeline {plan.pipeline}[/] (priority {plan.priority}); "
                  "no plugin code runs.")
    for index, hook in enumerate(description["hooks"], start=1):
        console.print(f"{index}. hook [bold]{hook['hook']}[/]"
                      + ("" if hook["plugins"] else "  (no plugins: skipped)"))
        for plugin in hook["plugins"]:
            flag = ", fail-hard" if plugin["fail_hard"] else ""
            console.print(f"   - {plugin['id']} {plugin['version']}{flag}")
            config = yaml.safe_dump(plugin["config"], sort_keys=True, default_flow_style=True)
            console.print(f"     config: {config.strip()}", soft_wrap=True, markup=False)


def print_summary(result: Any) -> None:
    console.print()
    console.print(f"run [bold]{result.run_id}[/] of [bold]{result.pipeline}[/]: "
                  f"{styled(result.status)} in {seconds(result.duration)}")
    for task_id, task in result.tasks.items():
        if task["status"] != TaskStatus.COMPLETED and task.get("error"):
            console.print(f"  {task_id}: {styled(task['status'])} {console_text(task['error'])}",
                          soft_wrap=True)
        elif task.get("output_summary"):
            console.print(f"  {task_id}: {describe(task['output_summary'])}"
                          f"{describe_writes(task.get('writes'))}", soft_wrap=True, markup=False)
    console.print(f"details: dataflow show {result.run_id[:12]}")
    if result.status in (RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.INTERRUPTED):
        console.print(f"resume it: dataflow resume {result.run_id[:12]}")


def read_overrides(assignments: tuple[str, ...], config_file: str | None) -> dict:
    """--config FILE ({plugin: {field: value}}) with --set plugin.field=value on top."""
    from_file = parse_file(config_file) if config_file else {}
    from_set = parse_assignments(assignments) if assignments else {}
    return deep_merge(from_file, from_set)


def base_plan(project, pipeline: str, with_upstream: bool) -> tuple[RunPlan, list[str]]:
    """The run's plan, and the upstream pipelines it runs first (`--with-upstream`: their
    hooks come first, in the same graph)."""
    chain = upstream_chain(project.pipelines, pipeline) if with_upstream else []
    return (chain_plan(project, pipeline, chain) if chain else build_plan(project, pipeline)), chain


def chosen_pipeline(project, pipeline: str | None) -> str:
    """PIPELINE as given; without one, the project's `default` pipeline, or its only one."""
    if pipeline:
        return pipeline
    names = sorted(project.pipelines)
    if DEFAULT_PIPELINE in names or len(names) == 1:
        return DEFAULT_PIPELINE if DEFAULT_PIPELINE in names else names[0]
    raise click.UsageError("which pipeline? this project has no pipeline named "
                           f"{DEFAULT_PIPELINE!r}; name one: dataflow run NAME "
                           f"(pipelines: {', '.join(names) or 'none'})")


@click.command("run")
@click.argument("pipeline", required=False)
@click.option("--dry-run", is_flag=True, help="Print the resolved plan; run no plugin code.")
@click.option("--set", "assignments", multiple=True, metavar="PLUGIN.KEY=VALUE",
              help="Override one config field for this run only (repeatable); validated "
                   "against the plugin's CONFIG_SCHEMA before anything runs.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="A YAML/JSON file {plugin: {field: value}} of overrides for this run.")
@click.option("--local", is_flag=True,
              help="Run in this process even when a `dataflow serve` is running.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also start the Dask dashboard and print its address.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or plan) as JSON.")
@click.option("--no-cache", is_flag=True, help="Run every plugin, even cached ones (CACHE).")
@click.option("--env", "env_assignments", multiple=True, metavar="KEY=VALUE",
              help="Set an environment variable of the pipeline's command plugins "
                   "(config/commands.yaml) for this run, over system.yaml, pipeline and "
                   "command `env:` (repeatable). Pass secrets as '${VAR}' references.")
@click.option("--force", is_flag=True,
              help="Start even if an upstream pipeline (depends_on / requires) has not "
                   "succeeded within max_data_age; a closed gate still refuses.")
@click.option("--with-upstream", is_flag=True,
              help="Run the upstream pipelines first, in dependency order, in the same Dask "
                   "graph (a failed upstream stops it); recorded as one run of PIPELINE.")
@project_option
@handles_errors
def run_command(pipeline, dry_run, assignments, config_file, local, verbose, as_json, no_cache,
                env_assignments, force, with_upstream, project_dir) -> None:
    """Run PIPELINE (default: the pipeline named `default`, or the project's only one)
    once as a Dask graph and record it in the run history.

    Exit status: 0 completed, 1 failed or invalid project, 3 completed with
    errors (a non-fail-hard plugin failed), 4 cancelled (Ctrl-C cancels the run),
    5 store unavailable, 6 permission denied, 7 Dask scheduler unreachable.
    """
    phases.mark("imported")
    project = open_project(project_dir)
    server = None if local or dry_run else find_server(project.directory)
    if server is None and not dry_run:      # Dask's config is loaded only for a local run
        importlib.import_module("dataflow.cli.early_workers").start_workers_early(project)
    pipeline = chosen_pipeline(project, pipeline)
    problems = project_problems(project, pipeline=pipeline)
    if problems:
        raise ConfigError(problems)
    overrides = read_overrides(assignments, config_file)
    plan, chain = base_plan(project, pipeline, with_upstream)
    overrides = deep_merge(overrides, env_overrides(plan, parse_env(env_assignments)))
    plan = apply_overrides(project, plan, overrides)
    phases.mark("validated_and_planned")
    if dry_run:
        print_json(plan.describe()) if as_json else print_plan(plan)
        return
    fields = {"overrides": overrides} if overrides else {}
    if server is not None:      # requests (remote) or Dask (local): only the one used loads
        result: Any = importlib.import_module("dataflow.cli.remote_run").run_on_server(
            project, server, plan, overrides, as_json=as_json, use_cache=not no_cache,
            force=force, upstream=chain)
    else:       # Dask is imported only for a run in this process (a server runs it warm)
        local_run = importlib.import_module("dataflow.cli.local_run")
        result = local_run.run_here(project, plan, verbose=verbose, as_json=as_json,
                                    use_cache=not no_cache, run_fields=fields, force=force,
                                    upstream=chain)
    if as_json:
        print_json({"run_id": result.run_id, "status": result.status,
                    "duration": result.duration, "tasks": result.tasks})
    else:
        print_summary(result)
    phases.mark("summarised")
    if server is None:
        local_run.leave(EXIT_CODES.get(result.status, 1))
    phases.report()
    sys.exit(EXIT_CODES.get(result.status, 1))
