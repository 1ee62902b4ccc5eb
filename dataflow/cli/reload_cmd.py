"""`dataflow reload [PLUGIN]`: make the running server re-read its plugins now."""
from __future__ import annotations

import sys
from urllib.parse import quote

import click
from rich.markup import escape

from dataflow.cli.common import console, handles_errors, open_project, print_json, project_option
from dataflow.cli.remote_run import call_server
from dataflow.project import Project
from dataflow.web.discovery import find_server


def _here(project: Project, plugin: str | None) -> dict:
    """No server: the plugins as this process reads them (nothing was loaded before)."""
    registry = project.registry
    reply = {"changed": [], "plugins": sorted(registry.plugins),
             "problems": [problem.as_dict() for problem in registry.problems]}
    if plugin is not None:
        info = registry.get(plugin)
        reply.update(plugin=plugin, source_hash=info.ref.source_hash, serving_last_good=None)
    return reply


def _print(reply: dict, where: str) -> None:
    changed = ", ".join(reply["changed"]) or "nothing changed"
    console.print(f"reloaded {where}: {escape(changed)}; {len(reply['plugins'])} plugins loaded")
    if reply.get("plugin"):
        last_good = reply.get("serving_last_good")
        console.print(f"{escape(reply['plugin'])}: source {reply['source_hash']}"
                      + (" [yellow](its new code fails: the last good version serves)[/]"
                         if last_good else ""))
    for problem in reply["problems"]:
        mark = "[yellow]![/]" if problem["warning"] else "[red]✗[/]"
        line = f"{problem['file']}: {problem['message']}" + \
            (f"\n    fix: {problem['fix']}" if problem.get("fix") else "")
        console.print(f"{mark} {escape(line)}", soft_wrap=True)


@click.command("reload")
@click.argument("plugin", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the reply as JSON.")
@project_option
@handles_errors
def reload_command(plugin, as_json, project_dir) -> None:
    """Re-read the plugins now, in the running `dataflow serve` of this project.

    The server watches plugin files and reloads on every save by itself; this forces it
    (e.g. on a file system without change events) and prints what changed and every
    plugin problem. With PLUGIN: that plugin's version too (an unknown PLUGIN is an
    error). A plugin whose new code fails keeps its last good version serving; its error
    is printed. With no server running, every command reads the plugins afresh: they are
    read here and their problems printed. Exit 1 when any plugin has a problem.
    """
    project = open_project(project_dir)
    server = find_server(project.directory)
    if server is not None:
        path = f"/api/plugins/{quote(plugin, safe='')}/reload" if plugin else "/api/plugins/reload"
        reply, where = call_server(server, path), f"by the server at {server.url}"
    else:
        reply, where = _here(project, plugin), "here (no server is running)"
    if as_json:
        print_json(reply)
    else:
        _print(reply, where)
    if reply["problems"]:
        sys.exit(1)

