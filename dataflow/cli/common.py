"""Shared CLI plumbing: the project option, error reporting, exit codes, formatting."""
from __future__ import annotations

import functools
import json
import os
import sys
from datetime import datetime

import click
from rich.console import Console
from rich.markup import escape

from dataflow.errors import ConfigError, DataflowError
from dataflow.project import Project

# Exit codes: 0 success, 1 failed run or invalid input, 3 completed with errors, 4 cancelled.
EXIT_CODES = {"completed": 0, "failed": 1, "completed_with_errors": 3, "cancelled": 4,
              "interrupted": 1, "timed_out": 1}

# Piped output gets a wide fixed width so tables are not folded into narrow columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def project_option(function):
    """--project DIR on every command (default: DATAFLOW_PROJECT, else the current dir)."""
    return click.option("--project", "project_dir", envvar="DATAFLOW_PROJECT",
                        type=click.Path(file_okay=False), default=None,
                        help="Project directory (default: $DATAFLOW_PROJECT or the current one).")(function)


def handles_errors(function):
    """Print dataflow's own errors plainly (no traceback) and exit non-zero."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            err_console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            sys.exit(1)
        except DataflowError as error:
            err_console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            sys.exit(1)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as error:          # a bug: say so plainly, traceback only on request
            if os.environ.get("DATAFLOW_DEBUG"):
                raise
            err_console.print(f"[red]unexpected error:[/red] {type(error).__name__}: "
                              f"{escape(str(error))}\nset DATAFLOW_DEBUG=1 to see the traceback",
                              soft_wrap=True)
            sys.exit(2)
    return wrapper


def open_project(project_dir) -> Project:
    return Project(project_dir)


def when(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def seconds(value) -> str:
    return "" if value is None else f"{value:.2f}s"


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


STATUS_STYLE = {"completed": "green", "failed": "red", "completed_with_errors": "yellow",
                "cancelled": "magenta", "skipped": "dim", "running": "cyan", "pending": "dim",
                "timed_out": "red", "interrupted": "red"}


def styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status.split(' ')[0], 'white')}]{status}[/]"
