"""Shared CLI plumbing: the project option, error reporting, exit codes, formatting."""
from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from dataflow.errors import DataflowError, PermissionDenied, StoreUnavailable
from dataflow.project import Project, require_project
from dataflow.statuses import RunStatus, TaskStatus

# Exit codes: 0 success, 1 failed run or invalid input, 2 a bug, 3 completed with errors,
# 4 cancelled, 5 store unavailable, 6 permission denied, 7 scheduler unreachable.
EXIT_CODES: dict[str, int] = {RunStatus.COMPLETED: 0, RunStatus.FAILED: 1, RunStatus.COMPLETED_WITH_ERRORS: 3,
              RunStatus.CANCELLED: 4, RunStatus.INTERRUPTED: 1, TaskStatus.TIMED_OUT: 1}

# Piped output gets a wide fixed width so tables are not folded into narrow columns
# (unless $COLUMNS says how wide, which Rich then reads).
_SIZED = bool(os.environ.get("COLUMNS", "").strip().isdigit())
console = Console(highlight=False, width=None if sys.stdout.isatty() or _SIZED else 160)
err_console = Console(stderr=True, highlight=False,
                      width=None if sys.stderr.isatty() or _SIZED else 160)


def project_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """--project DIR on every command (default: DATAFLOW_PROJECT, else the current dir)."""
    return click.option("--project", "project_dir", envvar="DATAFLOW_PROJECT",
                        type=click.Path(file_okay=False), default=None,
                        help="Project directory (default: $DATAFLOW_PROJECT or the current one).")(function)


def handles_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Print dataflow's own errors plainly (no traceback) and exit non-zero."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except StoreUnavailable as error:
            err_console.print(f"[red]store unavailable:[/red] {escape(str(error))}",
                              soft_wrap=True)
            sys.exit(error.exit_code)
        except DataflowError as error:
            err_console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            sys.exit(error.exit_code)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except PermissionError as error:    # the environment, not a bug: say what to change
            err_console.print(f"[red]permission denied:[/red] {escape(_denied(error))}",
                              soft_wrap=True)
            sys.exit(PermissionDenied.exit_code)
        except Exception as error:          # a bug: say so plainly, traceback only on request
            if os.environ.get("DATAFLOW_DEBUG"):
                raise
            err_console.print(f"[red]unexpected error:[/red] {type(error).__name__}: "
                              f"{escape(str(error))}\nset DATAFLOW_DEBUG=1 to see the traceback",
                              soft_wrap=True)
            sys.exit(2)
    return wrapper


def _denied(error: PermissionError) -> str:
    target = error.filename or "a file or folder"
    return (f"{target}: {error.strerror or error}; fix: give this user access to {target} "
            "(or point the setting that names it at a folder you can write)")


def open_project(project_dir: str | None) -> Project:
    """The project at `project_dir`; refused (nothing created) when it is not one."""
    project = Project(project_dir)
    require_project(project.directory)
    return project


def when(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def seconds(value) -> str:
    return "" if value is None else f"{value:.2f}s"


EPOCH_FIELDS = ("started", "finished", "time", "heartbeat")


def _json_value(value):
    """ISO 8601 for every timestamp (datetimes, and epoch seconds under a time key)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def iso_times(data):
    """`data` with epoch-second floats under time keys turned into ISO 8601 text."""
    if isinstance(data, dict):
        return {k: datetime.fromtimestamp(v, timezone.utc).isoformat()
                if k in EPOCH_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool)
                else iso_times(v) for k, v in data.items()}
    if isinstance(data, list):
        return [iso_times(item) for item in data]
    return data


def print_json(data) -> None:
    click.echo(json.dumps(iso_times(data), indent=2, default=_json_value))


STATUS_STYLE: dict[str, str] = {TaskStatus.COMPLETED: "green", TaskStatus.FAILED: "red",
                RunStatus.COMPLETED_WITH_ERRORS: "yellow", TaskStatus.CANCELLED: "magenta",
                TaskStatus.SKIPPED: "dim", TaskStatus.RUNNING: "cyan", TaskStatus.PENDING: "dim",
                TaskStatus.TIMED_OUT: "red", TaskStatus.INTERRUPTED: "red",
                TaskStatus.ROLLED_BACK: "yellow", TaskStatus.ROLLBACK_FAILED: "red"}


def styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status.split(' ')[0], 'white')}]{status}[/]"
