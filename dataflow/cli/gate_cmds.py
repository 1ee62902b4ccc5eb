"""`dataflow gate open|close|list`: named gates (spec 002).

A pipeline that lists a gate under `gates:` (pipelines.yaml) does not start while it is
closed: `dataflow run`, the API and the scheduler refuse it and say which gate. A plugin
whose GATES name a closed gate is left out of its runs and recorded skipped.
"""
from __future__ import annotations

import os

import click
from rich.markup import escape

from dataflow.cli.common import console, handles_errors, open_project, print_json, project_option, when
from dataflow.run.gate_view import change_gate, gate_overview


def _who() -> str:
    return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"


def _show(gate: dict) -> None:
    state = "[green]open[/]" if gate["open"] else "[red]closed[/]"
    since = f" since {when(gate['changed_at'])} by {escape(gate['changed_by'] or '')}" \
        if gate.get("changed_at") else ""
    reason = f" — {escape(gate['reason'])}" if gate.get("reason") else ""
    users = f"  (required by {escape(', '.join(gate['required_by']))})" \
        if gate.get("required_by") else ""
    console.print(f"gate [bold]{escape(gate['name'])}[/] {state}{since}{reason}{users}",
                  soft_wrap=True)


@click.group("gate")
def gate_group() -> None:
    """Named gates: what requires a closed gate does not start.

    Pipelines name gates under `gates:` in config/pipelines.yaml; plugins with
    GATES = [...]. A gate nobody has set is open.
    """


@gate_group.command("open")
@click.argument("name")
@click.option("--reason", help="Why (stored with the gate).")
@project_option
@handles_errors
def gate_open_command(name, reason, project_dir) -> None:
    """Open gate NAME: pipelines and plugins that require it may start again."""
    _show(change_gate(open_project(project_dir), name, True, _who(), reason))


@gate_group.command("close")
@click.argument("name")
@click.option("--reason", help="Why (shown in the refusals the closed gate causes).")
@project_option
@handles_errors
def gate_close_command(name, reason, project_dir) -> None:
    """Close gate NAME: pipelines that require it are refused (the scheduler records
    the refusal), plugins that require it are skipped, until it is opened."""
    _show(change_gate(open_project(project_dir), name, False, _who(), reason))


@gate_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the gates as JSON.")
@project_option
@handles_errors
def gate_list_command(as_json, project_dir) -> None:
    """Every gate (stored, or named by a pipeline or plugin), open or closed."""
    gates = gate_overview(open_project(project_dir))
    if as_json:
        print_json({"gates": gates})
        return
    if not gates:
        console.print("no gates: name them under `gates:` in config/pipelines.yaml or close "
                      "one with `dataflow gate close NAME`")
    for gate in gates:
        _show(gate)
