"""`dataflow alert test`: send one test message through every configured alert channel."""
from __future__ import annotations

import sys

import click
from rich.markup import escape

from dataflow.alerts.channels import send_test_alert
from dataflow.alerts.settings import AlertSettings
from dataflow.cli.common import console, err_console, handles_errors, open_project, project_option

NOTHING_CONFIGURED = ("no alert channel is configured: set alerts.slack.webhook_url in "
                      "config/system.yaml (or $DATAFLOW_SLACK_WEBHOOK), or alerts.email "
                      "(smtp_host, from, to)")


@click.group("alert")
def alert_group() -> None:
    """Alerts: Slack on ERROR/FATAL log records, email on run results, absence alerts."""


@alert_group.command("test")
@project_option
@handles_errors
def alert_test_command(project_dir) -> None:
    """Send a test message through each configured channel (Slack, email), now.

    Exit 0 when every channel took it; 1 when one failed or none is configured.
    Webhook URLs and passwords are never printed.
    """
    project = open_project(project_dir)
    settings, problems = AlertSettings.from_mapping(project.settings.alerts)
    for problem in problems:
        err_console.print(f"[yellow]warning:[/] {escape(str(problem))}", soft_wrap=True)
    results = send_test_alert(settings)
    if not results:
        err_console.print(f"[red]{NOTHING_CONFIGURED}[/]", soft_wrap=True)
        sys.exit(1)
    for channel, outcome in sorted(results.items()):
        if outcome["ok"]:
            console.print(f"{channel}: [green]test alert sent[/]")
        else:
            err_console.print(f"[red]{channel}: test alert not sent:[/] "
                              f"{escape(outcome['error'] or 'unknown error')}", soft_wrap=True)
    if not all(outcome["ok"] for outcome in results.values()):
        sys.exit(1)
