"""`dataflow output RUN PLUGIN [--to FILE]`: a completed task's output, read back from its
checkpoint: summarised, or written to a file (Parquet/CSV for a DataFrame, else JSON or
pickle, by the file's extension)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dataflow.cli.common import console, handles_errors, open_project, project_option
from dataflow.errors import Conflict, NotFound
from dataflow.output_files import export
from dataflow.outputs import describe, summarize
from dataflow.statuses import TaskStatus
from dataflow.store.history import get_run
from dataflow.worker.checkpoints import load_checkpoint

PREVIEW_ROWS = 5


def _task(run: dict, plugin: str, hook: str | None) -> dict:
    tasks = [t for t in run["tasks"] if t["plugin"] == plugin and hook in (None, t["hook"])]
    short = run["_id"][:12]
    if not tasks:
        known = ", ".join(sorted({t["plugin"] for t in run["tasks"]})) or "none"
        raise NotFound(f"run {short} has no plugin {plugin!r} (its plugins: {known})")
    if len(tasks) > 1:
        hooks = ", ".join(t["hook"] for t in tasks)
        raise Conflict(f"plugin {plugin!r} ran in several hooks of run {short} ({hooks}); "
                       "choose one with --hook")
    task = tasks[0]
    if task.get("status") != TaskStatus.COMPLETED:
        raise Conflict(f"{task['hook']}.{plugin} of run {short} is {task.get('status')}, so it "
                       f"has no output; see `dataflow show {short}`")
    if not task.get("checkpoint"):
        raise NotFound(f"{task['hook']}.{plugin} of run {short} kept no checkpoint of its output "
                       "(checkpoints: off, or it was marked successful by hand)")
    return task


def _preview(value: Any) -> None:
    if hasattr(value, "head") and hasattr(value, "columns"):
        console.print(value.head(PREVIEW_ROWS).to_string(), markup=False)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:PREVIEW_ROWS * 4]:
            console.print(f"  {key}: {describe(summarize(item))}", markup=False)
    else:
        console.print(repr(value)[:2000], markup=False)


@click.command("output")
@click.argument("run_id")
@click.argument("plugin")
@click.option("--hook", help="The hook, when the plugin runs in several.")
@click.option("--to", "target", type=click.Path(dir_okay=False),
              help="Write the output here: .parquet or .csv (a DataFrame), .json or .pkl.")
@project_option
@handles_errors
def output_command(run_id, plugin, hook, target, project_dir) -> None:
    """Load the output of PLUGIN in run RUN_ID (a unique prefix is enough) from its
    checkpoint: print a summary, or write it to a file with --to."""
    project = open_project(project_dir)
    task = _task(get_run(project.db, run_id), plugin, hook)
    try:
        value = load_checkpoint(project.store, task["checkpoint"])
    except FileNotFoundError:
        raise NotFound(f"the checkpoint of {task['hook']}.{plugin} is gone (pruned or deleted); "
                       f"re-run the pipeline to produce it again") from None
    if target:
        console.print(f"wrote {export(value, Path(target))}", markup=False)
        return
    console.print(f"{task['hook']}.{plugin}: {describe(summarize(value))}", markup=False)
    _preview(value)
