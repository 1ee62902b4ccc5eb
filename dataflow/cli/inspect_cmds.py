"""Read-only commands: `validate`, `plugins`, `runs`, `show`."""
from __future__ import annotations

import sys

import click
from rich.table import Table
from rich.text import Text

from dataflow.cli.plugin_history import print_plugin_history
from dataflow.cli.server_plugins import print_served_last_good
from dataflow.cli.common import (console, err_console, handles_errors, open_project,
                                 print_json, project_option, seconds, styled, when)
from dataflow.errors import did_you_mean
from dataflow.run.plan import plugins_in_pipeline
from dataflow.store.history import get_run, list_runs
from dataflow.outputs import describe, describe_writes
from dataflow.outputs import describe_rows
from dataflow.config.validate import project_problems, project_warnings, stored_pipeline_problems


def _problem_line(problem) -> Text:
    """A problem with a red mark; its own text is never read as markup."""
    return Text.assemble(("✗ ", "red"), str(problem))


@click.command("validate")
@project_option
@handles_errors
def validate_command(project_dir) -> None:
    """Check config files and every plugin; print each problem with where and how to fix it."""
    project = open_project(project_dir)
    problems = project_problems(project)
    problems += stored_pipeline_problems(project)
    warnings = project_warnings(project)
    for warning in warnings:        # printed, but they do not fail validation
        console.print(Text.assemble(("! ", "yellow"), str(warning)), soft_wrap=True)
    if not problems:
        console.print(f"[green]ok[/]: {project.directory} is valid "
                      f"({len(project.registry.plugins)} plugins, "
                      f"{len(project.pipelines)} pipelines"
                      + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''})"
                         if warnings else ")"))
        return
    for problem in problems:
        console.print(_problem_line(problem), soft_wrap=True)
    console.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found")
    sys.exit(1)


def _exit_if_broken(project) -> None:
    problems = project.registry.problems
    for problem in problems:
        err_console.print(_problem_line(problem), soft_wrap=True)
    if problems:
        err_console.print(f"{len(problems)} plugin problem(s): fix them, then check with "
                          "`dataflow validate`")
        sys.exit(1)


@click.command("plugins")
@click.option("--tag", help="Only plugins with this tag.")
@click.option("--pipeline", help="Only plugins that run in this pipeline.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--history", "history_of", metavar="ID",
              help="Instead: which versions (VERSION and source hash) of plugin ID ran when.")
@project_option
@handles_errors
def plugins_command(tag, pipeline, as_json, history_of, project_dir) -> None:
    """List plugins: hooks, pipelines, version, tags and where each comes from
    (with --history ID: the versions of one plugin that ran, first and last run).

    When `dataflow serve` runs for the project, a plugin whose file fails to load now but
    which the server still serves in its last good version is noted (with its source
    hash); a server that does not answer within 2 s is skipped."""
    project = open_project(project_dir)
    if history_of is not None:
        print_plugin_history(project, history_of, as_json)
        return
    chosen = project.registry.select(tag=tag)
    if pipeline is not None:      # exactly the plugins `dataflow run P` would run
        running = set(plugins_in_pipeline(project, pipeline))
        chosen = [info for info in chosen if info.id in running]
    if as_json:
        print_json([project.registry.describe(info.id) for info in chosen])
        _exit_if_broken(project)     # a broken plugin fails the JSON form too (on stderr)
        return
    known_tags = {t for info in project.registry.plugins.values() for t in info.tags}
    if tag is not None and tag not in known_tags:
        console.print(f"no plugin has tag {tag!r}{did_you_mean(tag, known_tags)} (tags: "
                      f"{', '.join(sorted(known_tags)) or 'none'})", markup=False)
    table = Table(show_edge=False)
    for column in ("plugin", "version", "hooks", "pipelines", "tags", "from"):
        table.add_column(column)
    for info in chosen:
        table.add_row(info.id, info.version, ", ".join(info.hooks), ", ".join(info.pipelines),
                      ", ".join(info.tags), info.origin)
    for shown, declared in project.registry.broken.items():     # listed, with their error
        table.add_row(str(declared.get("PLUGIN_NAME", "?")), "[red]broken[/]",
                      ", ".join(map(str, declared.get("HOOKS") or ())),
                      ", ".join(map(str, declared.get("PIPELINES") or ())), "", shown)
    console.print(table)
    print_served_last_good(project.directory)      # `dataflow serve` may serve an older one
    for problem in project.registry.problems:
        console.print(_problem_line(problem), soft_wrap=True)
    if project.registry.problems:
        console.print(f"{len(project.registry.problems)} plugin problem(s): fix them, then "
                      "check with `dataflow validate`")
        sys.exit(1)


@click.command("runs")
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--status", help="Only runs with this status.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@project_option
@handles_errors
def runs_command(pipeline, status, limit, as_json, project_dir) -> None:
    """List recent runs, newest first."""
    runs = list_runs(open_project(project_dir).db, pipeline, status, limit)
    if as_json:
        print_json(runs)
        return
    table = Table(show_edge=False)
    # ids a user types whole keep their width; other columns give way first at 80 columns
    whole = {"run": 32, "pipeline": min(30, max([8, *(len(r.get("pipeline", "")) for r in runs)]))}
    for column in ("run", "pipeline", "status", "trigger", "started", "duration"):
        table.add_column(column, no_wrap=True, min_width=whole.get(column),
                         overflow="fold" if column in whole else "ellipsis")
    for run in runs:
        table.add_row(run["_id"], run.get("pipeline", ""), styled(run.get("status", "")),
                      run.get("trigger", ""), when(run.get("started")), seconds(run.get("duration")))
    console.print(table)


def _rows(task: dict) -> str:
    """How far a streamed task got: "; rows 1,200,000 / 5,000,000 (chunk 3/10)"."""
    text = describe_rows(task.get("stream") or task.get("progress"))
    return f"; {text}" if text else ""


def _task_table(tasks: list) -> Table:
    table = Table(show_edge=False)
    for column in ("hook", "plugin", "version", "status", "started", "duration", "output",
                   "error"):
        table.add_column(column, no_wrap=column in ("hook", "plugin"),
                         overflow="fold" if column in ("output", "error") else "ellipsis")
    for task in tasks:
        table.add_row(task["hook"], task["plugin"], task.get("plugin_version", ""),
                      styled(task["status"]), when(task.get("started")),
                      seconds(task.get("duration")),
                      describe(task.get("output_summary")) + describe_writes(task.get("writes"))
                      + _rows(task),
                      task.get("error") or "")
    return table


@click.command("show")
@click.argument("run_id")
@click.option("--traceback", "tracebacks", is_flag=True, help="Print failed tasks' tracebacks.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@project_option
@handles_errors
def show_command(run_id, tracebacks, as_json, project_dir) -> None:
    """Show one run (a unique prefix of its id is enough): tasks, timings, errors."""
    run = get_run(open_project(project_dir).db, run_id)
    if as_json:
        print_json(run)
        return
    console.print(f"run [bold]{run['_id']}[/]  pipeline [bold]{run.get('pipeline')}[/]  "
                  f"{styled(run.get('status', ''))}  trigger {run.get('trigger')}")
    console.print(f"started {when(run.get('started'))}  finished {when(run.get('finished'))}  "
                  f"duration {seconds(run.get('duration'))}")
    for label, key in (("logical time", "logical_time"), ("overrides", "overrides"),
                       ("only plugins", "only_plugins"), ("resumed from", "resumed_from")):
        if run.get(key):
            console.print(f"{label} {when(run[key]) if key == 'logical_time' else run[key]}",
                          markup=False)
    console.print(_task_table(run["tasks"]))
    for task in run["tasks"] if tracebacks else []:
        if task.get("traceback"):
            console.print(f"\n[bold]{task['hook']}.{task['plugin']}[/]")
            console.print(task["traceback"], markup=False)
