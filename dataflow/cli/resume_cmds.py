"""`dataflow resume` and `dataflow mark-success`: pick a run up where it stopped."""
from __future__ import annotations

import importlib

import click

from dataflow.cli import phases
from dataflow.cli.common import (EXIT_CODES, console, handles_errors, open_project,
                                 project_option)
from dataflow.cli.early_workers import start_workers_early
from dataflow.cli.run_cmd import print_summary
from dataflow.run.resume import resume_plan
from dataflow.store.control import mark_success


@click.command("resume")
@click.argument("run_id")
@click.option("--failed-only", is_flag=True,
              help="Re-run only the tasks that failed; skip the others that did not complete.")
@click.option("--again", is_flag=True,
              help="Resume a run that was resumed before (its plugins' side effects repeat).")
@click.option("--verbose", "-v", is_flag=True,
              help="Also start the Dask dashboard and print its address.")
@project_option
@handles_errors
def resume_command(run_id, failed_only, again, verbose, project_dir) -> None:
    """Resume a failed, cancelled or interrupted run from where it stopped.

    Tasks that completed are not run again: their checkpointed outputs are
    restored. The resumed run is a new run linked to the old one. A run is resumed
    by one process at a time, and once: resuming it again is refused, naming the run
    that resumed it, unless you pass --again.
    """
    phases.mark("imported")
    project = open_project(project_dir)
    start_workers_early(project)
    plan, old = resume_plan(project, run_id, failed_only, again)
    phases.mark("planned")
    reused = sum(task.mode == "restore" for task in plan.tasks)
    console.print(f"resuming run {old['_id']} of {old['pipeline']}: {reused} task(s) restored "
                  f"from checkpoints, {sum(t.mode == 'run' for t in plan.tasks)} to run")
    # Dask is imported only now: the worker server started above imports it meanwhile
    local_run = importlib.import_module("dataflow.cli.local_run")
    result = local_run.resume_here(project, plan, old["_id"], failed_only=failed_only,
                                   again=again, verbose=verbose)
    print_summary(result)
    local_run.leave(EXIT_CODES.get(result.status, 1))


@click.command("mark-success")
@click.argument("run_id")
@click.option("--plugin", required=True, help="The plugin whose task to mark completed.")
@project_option
@handles_errors
def mark_success_command(run_id, plugin, project_dir) -> None:
    """Mark one plugin's task of a finished run as completed, so `resume` skips it.

    Downstream plugins of the resumed run then get no output from it.
    """
    run = mark_success(open_project(project_dir).db, run_id, plugin)
    console.print(f"marked {plugin} of run {run['_id']} as completed; "
                  f"`dataflow resume {run['_id'][:12]}` will not run it again")
