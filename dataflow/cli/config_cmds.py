"""`dataflow config show|set|history|restore|migrate PLUGIN --pipeline P`: plugin config per pipeline,
stored in the database through the ConfigManager, validated and versioned."""
from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from dataflow.cli.common import (console, handles_errors, open_project, print_json, project_option,
                                 when)
from dataflow.cli.config_values import parse_values
from dataflow.run.plan import plugins_for_hook

if TYPE_CHECKING:
    from dataflow.project import Project

LAYERS_NOTE = ("sources, lowest first: default (the plugin's CONFIG_SCHEMA) < yaml "
               "(config/pipelines.yaml: plugin_config, then pipelines.{pipeline}.config) < stored "
               "(`dataflow config set`)")


def pipeline_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--pipeline", "-p", required=True,
                        help="The pipeline the config is for.")(function)


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print as JSON.")(function)


def cli_author() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def compact(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@click.group("config")
def config_group() -> None:
    """Plugin config per pipeline: show it, set it, list and restore its versions.

    The effective config of a plugin in a pipeline is layered, lowest first:
    CONFIG_SCHEMA defaults < `plugin_config:` in config/pipelines.yaml <
    `pipelines.P.config:` there < the stored layer (kept in the database,
    changed only with `dataflow config set` / `restore`, every change versioned).
    """


def _print_description(shown: dict) -> None:
    console.print(f"plugin [bold]{shown['plugin']}[/] {shown['plugin_version']} · pipeline "
                  f"[bold]{shown['pipeline']}[/]")
    if shown["version"] is None:
        console.print("nothing stored: the values come from defaults and YAML")
    else:
        console.print(f"stored version {shown['version']}, {when(shown['updated'])} "
                      f"by {shown['author']}", markup=False)
    table = Table(show_edge=False)
    for column in ("key", "value", "source"):
        table.add_column(column, overflow="fold")
    for key, value in shown["config"].items():
        table.add_row(Text(key), Text(compact(value)), shown["sources"].get(key, ""))
    console.print(table)
    console.print(LAYERS_NOTE.format(pipeline=shown["pipeline"]), markup=False, soft_wrap=True)
    for error in shown["errors"]:
        console.print(Text.assemble(("✗ ", "red"), f"{error['field']}: {error['message']}"))
    if shown["errors"]:
        console.print(f"this config does not match CONFIG_SCHEMA: runs of {shown['pipeline']} "
                      f"stop until it is fixed (`dataflow config set {shown['plugin']} "
                      f"--pipeline {shown['pipeline']} KEY=VALUE`)", markup=False, soft_wrap=True)


@config_group.command("show")
@click.argument("plugin")
@pipeline_option
@json_option
@project_option
@handles_errors
def show_command(plugin, pipeline, as_json, project_dir) -> None:
    """Print PLUGIN's effective config in a pipeline and where each top-level value comes
    from: default, yaml or stored."""
    shown = open_project(project_dir).config.describe_config(plugin, pipeline)
    if as_json:
        print_json(shown)
    else:
        _print_description(shown)


def _runs_in(project: Project, plugin: str, pipeline: str) -> bool:
    hooks = project.pipelines[pipeline].hooks
    return any(plugin in plugins_for_hook(project, pipeline, hook) for hook in hooks)


@config_group.command("set")
@click.argument("plugin")
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@pipeline_option
@click.option("--json", "json_text", metavar="OBJECT", help="The new values as a JSON object.")
@click.option("--file", "file_path", metavar="FILE", help="A YAML or JSON file of new values.")
@click.option("--replace", is_flag=True,
              help="Make the given values the whole stored layer instead of merging them in.")
@click.option("--author", default=None, help="Recorded with the version (default: cli:$USER).")
@project_option
@handles_errors
def set_command(plugin, assignments, pipeline, json_text, file_path, replace, author,
                project_dir) -> None:
    """Store new config values for PLUGIN in a pipeline, as a new version.

    Give the values one way: KEY=VALUE pairs (each VALUE is read as YAML, so
    window=5 is an int, adjust=true a bool, tickers='[AAPL, IBM]' a list; a
    dotted key like bands.width=2 sets a nested field), --json '{...}', or
    --file FILE (YAML or JSON). The new keys are merged into the stored layer
    (keys stored before and not given stay stored; nested objects merge);
    --replace stores exactly the given values instead. The resulting config is
    validated against the plugin's CONFIG_SCHEMA first: on any error each
    field's problem is printed, nothing is written, and the exit status is 1.
    """
    values = parse_values(assignments, json_text, file_path)
    project = open_project(project_dir)
    record = project.config.update_plugin_config(plugin, pipeline, values,
                                                 author or cli_author(), merge=not replace)
    console.print(f"stored config version {record['version']} of plugin {plugin} for pipeline "
                  f"{pipeline}: {compact(record['config'])}", markup=False, soft_wrap=True)
    if not _runs_in(project, plugin, pipeline):
        console.print(f"note: plugin {plugin} does not run in pipeline {pipeline} now (none of "
                      f"its hooks is there); the config applies if it ever does", markup=False)


@config_group.command("history")
@click.argument("plugin")
@pipeline_option
@json_option
@project_option
@handles_errors
def history_command(plugin, pipeline, as_json, project_dir) -> None:
    """List the stored versions of PLUGIN's config in a pipeline, newest first."""
    versions = open_project(project_dir).config.history(plugin, pipeline)
    if as_json:
        print_json(versions)
        return
    if not versions:
        console.print(f"no stored config for plugin {plugin} in pipeline {pipeline} yet; "
                      "set one with `dataflow config set`", markup=False)
        return
    table = Table(show_edge=False)
    for column in ("version", "when", "plugin version", "author", "config"):
        table.add_column(column, overflow="fold")
    for entry in versions:
        author = entry.get("author", "")
        if entry.get("restored_from"):
            author += f" (restored v{entry['restored_from']})"
        table.add_row(str(entry["version"]), when(entry.get("updated")),
                      entry.get("plugin_version", ""), Text(author), Text(compact(entry["config"])))
    console.print(table)


@config_group.command("restore")
@click.argument("plugin")
@pipeline_option
@click.option("--version", "version", required=True, type=click.IntRange(min=1),
              help="The version to restore (see `dataflow config history`).")
@click.option("--author", default=None, help="Recorded with the version (default: cli:$USER).")
@project_option
@handles_errors
def restore_command(plugin, pipeline, version, author, project_dir) -> None:
    """Store an earlier version of PLUGIN's config again, as a new version (validated
    against the plugin's current CONFIG_SCHEMA like any change)."""
    record = open_project(project_dir).config.restore(plugin, pipeline, version,
                                                      author or cli_author())
    console.print(f"restored version {version} of plugin {plugin} for pipeline {pipeline} as "
                  f"version {record['version']}: {compact(record['config'])}", markup=False,
                  soft_wrap=True)


@config_group.command("migrate")
@click.argument("plugin")
@click.option("--pipeline", "-p", default=None, help="Only this pipeline (default: all).")
@project_option
@handles_errors
def migrate_command(plugin, pipeline, project_dir) -> None:
    """Apply PLUGIN's migrate_config(old_config, old_version) to its stored configs saved
    under an older major VERSION; each result is validated and stored as a new version
    (what a run also does when it loads such a config)."""
    migrated = open_project(project_dir).config.migrate(plugin, pipeline)
    if not migrated:
        console.print(f"nothing to migrate: no stored config of plugin {plugin} was saved "
                      "under an older major version", markup=False)
    for record in migrated:
        console.print(f"migrated config of plugin {plugin} for pipeline {record['pipeline']} "
                      f"from {record['migrated_from']}: stored as version {record['version']}: "
                      f"{compact(record['config'])}", markup=False, soft_wrap=True)
