"""`dataflow cancel RUN_ID [--plugin ID]`: stop a run (or one plugin) wherever it runs."""
from __future__ import annotations

import sys
import time

import click

from dataflow.cli.common import console, handles_errors, open_project, project_option, styled
from dataflow.statuses import FINAL_RUN_STATUSES, UNFINISHED_TASK_STATUSES
from dataflow.store.control import request_cancel
from dataflow.store.history import get_run


def _ended(run: dict, plugin: str | None) -> bool:
    if plugin is None:
        return run.get("status") in FINAL_RUN_STATUSES
    task: dict = next((t for t in run["tasks"] if t["plugin"] == plugin), {})
    return task.get("status") is not None and task["status"] not in UNFINISHED_TASK_STATUSES


@click.command("cancel")
@click.argument("run_id")
@click.option("--plugin", help="Cancel only this plugin of the run.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the run (or plugin) has stopped.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait at most.")
@project_option
@handles_errors
def cancel_command(run_id, plugin, wait, timeout, project_dir) -> None:
    """Cancel a running run, or one plugin of it (--plugin).

    Queued tasks never start; running plugins see context.cancelled() and get
    their cancel() called; one that ignores it is stopped hard after
    cluster.cancel_grace_seconds. Exit 0 once stopped, 1 on timeout.
    """
    db = open_project(project_dir).db
    full_id = request_cancel(db, run_id, plugin)
    what = f"plugin {plugin} of run {full_id}" if plugin else f"run {full_id}"
    console.print(f"cancel requested for {what}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = get_run(db, full_id)
        if _ended(run, plugin):
            status = run["status"] if plugin is None else next(
                t["status"] for t in run["tasks"] if t["plugin"] == plugin)
            console.print(f"{what}: {styled(status)}")
            return
        time.sleep(0.1)
    console.print(f"[red]{what} did not stop within {timeout:.0f}s[/]")
    sys.exit(1)
