"""`dataflow run PIPELINE`: validate, plan, run on Dask with live progress, summarise."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
import yaml

from dataflow.cli.common import (EXIT_CODES, console, handles_errors, open_project, print_json,
                                 project_option, seconds, styled)
from dataflow.cli.progress import ProgressView
from dataflow.run.engine import Engine
from dataflow.errors import ConfigError
from dataflow.config.validate import project_problems
from dataflow.statuses import TaskStatus

if TYPE_CHECKING:
    from dataflow.model import RunPlan
    from dataflow.run.result import RunResult


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


def print_summary(result: RunResult) -> None:
    console.print()
    console.print(f"run [bold]{result.run_id}[/] of [bold]{result.pipeline}[/]: "
                  f"{styled(result.status)} in {seconds(result.duration)}")
    for task_id, task in result.tasks.items():
        if task["status"] != TaskStatus.COMPLETED and task.get("error"):
            console.print(f"  {task_id}: {styled(task['status'])} {task['error']}",
                          soft_wrap=True)
    console.print(f"details: dataflow show {result.run_id[:12]}")


@click.command("run")
@click.argument("pipeline")
@click.option("--dry-run", is_flag=True, help="Print the resolved plan; run no plugin code.")
@click.option("--verbose", "-v", is_flag=True, help="Also print the Dask dashboard address.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or plan) as JSON.")
@click.option("--no-cache", is_flag=True, help="Run every plugin, even cached ones (CACHE).")
@project_option
@handles_errors
def run_command(pipeline, dry_run, verbose, as_json, no_cache, project_dir) -> None:
    """Run PIPELINE once as a Dask graph and record it in the run history.

    Exit status: 0 completed, 1 failed or invalid project, 3 completed with
    errors (a non-fail-hard plugin failed), 4 cancelled.
    """
    project = open_project(project_dir)
    problems = project_problems(project)
    if problems:
        raise ConfigError(problems)
    if dry_run:
        plan = Engine(project).plan(pipeline)
        print_json(plan.describe()) if as_json else print_plan(plan)
        return
    with Engine(project) as engine:
        plan = engine.plan(pipeline)
        engine.client           # start the cluster now, so the dashboard link exists
        assert engine.resources is not None     # started with the client
        if verbose:
            console.print(f"Dask dashboard: {engine.dashboard}")
        for hook, stage in zip(plan.hooks, plan.stages):
            if not stage:
                console.print(f"[yellow]note:[/] hook {hook} has no plugins in pipeline "
                              f"{pipeline}; it is skipped")
        view = ProgressView(plan, live=False if as_json else None,
                            resources=engine.resources.snapshot)
        with view:
            result = engine.run(pipeline, trigger="cli", listeners=[] if as_json else [view],
                                use_cache=not no_cache)
    project.close()
    if as_json:
        print_json({"run_id": result.run_id, "status": result.status,
                    "duration": result.duration, "tasks": result.tasks})
    else:
        print_summary(result)
    sys.exit(EXIT_CODES.get(result.status, 1))
