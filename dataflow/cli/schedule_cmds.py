"""`dataflow schedule [--next 24h] [--json]`, `dataflow schedule pause|resume PIPELINE`
and `dataflow scheduler` (the cron loop in the foreground; Ctrl-C stops it cleanly)."""
from __future__ import annotations

import getpass
import signal
import threading
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from rich.table import Table

from dataflow.alerts.service import ABSENCE_INTERVAL, AlertService
from dataflow.cli.common import (console, err_console, handles_errors, open_project,
                                 print_json, project_option)
from dataflow.config.validate import project_problems
from dataflow.errors import ConfigError
from dataflow.run.engine import Engine
from dataflow.run.service import RunService
from dataflow.schedule.clock import SystemClock
from dataflow.schedule.describe import parse_horizon
from dataflow.schedule.loop import SchedulerLoop
from dataflow.schedule.overview import schedule_overview, set_paused

SHOWN_FIRES = 3         # next fire times per pipeline in the table (--json lists them all)


def _local(text: str | None, zone: str) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _state(row: dict) -> str:
    if not row["enabled"]:
        return "disabled"
    if row["paused"]:
        by = f"by {row['paused_by']} since {row['paused_since'][:16]}" if row["paused_by"] \
            else "in its config"
        return f"[yellow]paused[/] ({escape(by)})"
    return "active"


def _fires(row: dict) -> str:
    shown = [_local(fire["utc"], row["timezone"]) for fire in row["next_fires"][:SHOWN_FIRES]]
    more = len(row["next_fires"]) - len(shown)
    text = "\n".join(shown) or "none"
    return text + (f"\n(+{more}{' or more' if row['truncated'] else ''})" if more else "")


def _print_scheduler(info: dict) -> None:
    if not info["active"]:
        console.print("[yellow]no scheduler holds the lease:[/] nothing fires until "
                      "`dataflow serve` or `dataflow scheduler` runs")
        return
    console.print(f"scheduler: [green]running[/] ({escape(info['holder'])}, pid {info['pid']} "
                  f"on {info['host']}; last tick {info['last_tick']})")


def _print_overview(data: dict) -> None:
    _print_scheduler(data["scheduler"])
    table = Table("pipeline", "schedule", "timezone", "catchup", "overlap", "state",
                  "next fires (local time)", "last", title=f"schedules, next "
                  f"{data['horizon_seconds'] // 3600}h {data['horizon_seconds'] % 3600 // 60}m")
    for row in data["pipelines"]:
        if "problems" in row:
            table.add_row(row["pipeline"], row["schedule"], "", "", "", "[red]invalid[/]",
                          escape("; ".join(row["problems"])), "")
            continue
        limit = row["active_run_limit"]
        overlap = f"{row['overlap']} (max {limit if limit is not None else 'none'})"
        catchup = row["catchup"] + (f" ({row['max_catchup']})" if row["catchup"] == "all" else "")
        due = row.get("due_now")
        state = _state(row) + (f"\ndue now: {len(due['fire'])} to fire, {due['dropped']} "
                               f"dropped" if due else "")
        table.add_row(row["pipeline"], row["schedule"], row["timezone"], catchup, overlap,
                      state, _fires(row), f"{row['last_outcome'] or ''}")
    console.print(table)
    fires = Table("decided", "pipeline", "logical time (UTC)", "outcome", "reason", "run",
                  title="recent fires")
    for fire in data["recent_fires"]:
        fires.add_row(fire["decided"][:19], fire["pipeline"], fire["logical_time"][:16],
                      fire["outcome"], escape(fire.get("reason") or ""),
                      (fire.get("run_id") or "")[:12])
    console.print(fires if data["recent_fires"] else "no fire recorded yet")


@click.group("schedule", invoke_without_command=True)
@click.option("--next", "horizon", default="24h", show_default=True,
              help="How far ahead to list fire times: 90m, 24h, 7d.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--pipeline", help="Only this pipeline.")
@project_option
@click.pass_context
@handles_errors
def schedule_group(ctx, horizon, as_json, pipeline, project_dir):
    """Each scheduled pipeline's policy and next fire times (time zone and DST
    applied), its pause state, what is due now (catch-up applied), recent fires and
    whether a scheduler is running. Subcommands pause and resume a schedule."""
    if ctx.invoked_subcommand is not None:
        return
    data = schedule_overview(open_project(project_dir), SystemClock().now(),
                             parse_horizon(horizon), pipeline=pipeline)
    print_json(data) if as_json else _print_overview(data)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):       # no user name (e.g. a container without passwd)
        return "cli"


def _pause_command(paused: bool):
    word = "pause" if paused else "resume"

    @click.command(word)
    @click.argument("pipeline")
    @project_option
    @handles_errors
    def command(pipeline, project_dir):
        state = set_paused(open_project(project_dir), pipeline, paused, _operator())
        note = "" if state["override"] else " (its config does not pause it)"
        console.print(f"schedule of {pipeline}: {'paused' if paused else 'resumed'}{note}")
    command.help = (f"{word.capitalize()} PIPELINE's schedule, without editing its config "
                    "(stored; it wins over `paused:` in the config).")
    return command


schedule_group.add_command(_pause_command(True))
schedule_group.add_command(_pause_command(False))


def _until_signal(loop: SchedulerLoop) -> str:
    """Wait for SIGINT/SIGTERM (or the loop's thread ending); which it was."""
    stopping = threading.Event()
    caught: list[str] = []

    def on_signal(signum, frame):
        caught.append(signal.Signals(signum).name)
        stopping.set()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.wait(0.5) and loop.is_alive():
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return caught[0] if caught else "the loop ended"


@click.command("scheduler")
@click.option("--lease-ttl", default=15.0, show_default=True,
              help="Seconds the lease lasts unless renewed; another loop takes over after.")
@click.option("--absence-every", type=click.FloatRange(min=0.5), default=ABSENCE_INTERVAL,
              show_default=True, help="Seconds between two checks for pipelines without a "
              "recent success (max_data_age) and runs overdue (expected_duration).")
@project_option
@handles_errors
def scheduler_command(lease_ttl, absence_every, project_dir):
    """Run the cron loop in the foreground: fire scheduled pipelines on this machine's
    Dask cluster until Ctrl-C (or SIGTERM), which stops it cleanly (runs still going
    are cancelled and recorded). Several loops on one store fire each time once.

    Alerts work as under `dataflow serve`: ERROR/FATAL records and failed runs go to
    Slack and email as config/system.yaml and pipelines.yaml say, and absences are
    checked every --absence-every seconds. As under `dataflow serve`, config/ and the
    plugin folders are watched: a saved pipelines.yaml (a new schedule, a paused
    pipeline) or plugin file is used from the next tick on, without a restart."""
    project = open_project(project_dir)
    problems = project_problems(project)
    if problems:
        raise ConfigError(problems)
    with Engine(project) as engine:
        engine.client                       # noqa: B018 -- start the cluster now, not at the first fire
        service = RunService(engine)
        alerts = AlertService.attach(engine, absence_every)
        loop = SchedulerLoop(service, lease_ttl=lease_ttl).start()
        engine.watch()      # config/ and plugins saved → reloaded (plugins/watch.py), as serve
        console.print(f"scheduler {loop.holder} started at "
                      f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC; Ctrl-C stops it")
        why = _until_signal(loop)
        stopped = loop.stop()
        cancelled = service.shutdown()
        alerts.stop()
    if not stopped:
        err_console.print("[yellow]the scheduler loop did not stop in time[/]")
    console.print(f"scheduler stopped ({why}); {len(cancelled)} running run(s) cancelled")
