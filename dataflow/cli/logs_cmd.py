"""`dataflow logs RUN_ID`: the structured log records of a run, optionally followed live."""
from __future__ import annotations

import time

import click

from dataflow.cli.common import console, handles_errors, open_project, project_option
from dataflow.run.log_file import format_record
from dataflow.log_levels import LEVELS, levels_at_least
from dataflow.statuses import FINAL_RUN_STATUSES
from dataflow.store.history import find_run_id, run_status
from dataflow.store.logs import read_logs

LEVEL_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "FATAL": "bold red"}





def _print(record: dict) -> None:
    record = {**record, "time": record["time"].isoformat(timespec="milliseconds")}
    style = LEVEL_STYLE.get(record["level"], "")
    text = format_record(record)
    console.print(f"[{style}]{text}[/]" if style else text, markup=bool(style),
                  soft_wrap=True, highlight=False)


@click.command("logs")
@click.argument("run_id")
@click.option("--plugin", help="Only records of this plugin.")
@click.option("--level", type=click.Choice(list(LEVELS), case_sensitive=False),
              help="Only records at this level or above.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records until the run ends.")
@project_option
@handles_errors
def logs_command(run_id, plugin, level, follow, project_dir) -> None:
    """Print a run's log records (a unique prefix of the id is enough), oldest first."""
    db = open_project(project_dir).db
    full_id = find_run_id(db, run_id)
    level = level.upper() if level else None
    last = 0
    while True:
        for record in read_logs(db, full_id, plugin, levels_at_least(level), last):
            _print(record)
            last = record["seq"]
        if not follow:
            return
        if run_status(db, full_id) in FINAL_RUN_STATUSES:
            follow = False      # one more read picks up records written at the end
        else:
            time.sleep(0.25)
