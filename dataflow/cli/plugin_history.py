"""`dataflow plugins --history ID`: which versions of a plugin ran when."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from dataflow.cli.common import console, print_json, styled, when
from dataflow.errors import PluginNotFound
from dataflow.store.plugin_history import ever_ran, plugin_history

if TYPE_CHECKING:
    from dataflow.project import Project

def _current(project: Project, plugin_id: str) -> tuple[str | None, str | None]:
    """(VERSION, source hash) of the plugin as loaded now; (None, None) if it is not."""
    info = project.registry.plugins.get(plugin_id)
    return (info.version, info.ref.source_hash) if info else (None, None)


def print_plugin_history(project: Project, plugin_id: str, as_json: bool) -> None:
    """A table (or JSON) of the plugin's versions that ran, newest first; the one loaded
    now is marked. Unknown and never run: PluginNotFound naming the known plugins."""
    version, source_hash = _current(project, plugin_id)
    if version is None and not ever_ran(project.db, plugin_id):
        known = ", ".join(sorted(project.registry.plugins)) or "none"
        raise PluginNotFound(plugin_id, f"loaded now or in the run history (loaded: {known}); "
                             "list them with `dataflow plugins`", project.registry.plugins)
    history = plugin_history(project.db, plugin_id)
    for entry in history:
        entry["current"] = entry["source_hash"] == source_hash and source_hash is not None
    if as_json:
        print_json({"plugin": plugin_id, "current_version": version,
                    "current_source_hash": source_hash, "versions": history})
        return
    now = f"loaded now: {version} ({(source_hash or '')[:12]})" if version else "not loaded now"
    console.print(f"plugin [bold]{plugin_id}[/]  {now}", soft_wrap=True)
    if not history:
        console.print("it has not run yet", markup=False)
        return
    table = Table(show_edge=False)
    for column in ("version", "source", "first run", "last run", "tasks", "last status", ""):
        table.add_column(column, no_wrap=column in ("version", "source"))
    for entry in history:
        table.add_row(str(entry["version"]), (entry["source_hash"] or "")[:12],
                      when(entry["first_run"]), when(entry["last_run"]), str(entry["runs"]),
                      styled(entry["last_status"] or ""), "← loaded now" if entry["current"] else "")
    console.print(table)
