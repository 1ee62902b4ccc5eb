"""`dataflow plugin new|test`: the plugin author's loop: a skeleton with its test, then
one run of the plugin on given inputs. `test` (which needs Dask) is imported when used."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from dataflow.cli.common import console, handles_errors, open_project, project_option
from dataflow.plugins.scaffold import new_plugin

if TYPE_CHECKING:
    from dataflow.config.pipelines import Pipeline
    from dataflow.project import Project

LAZY = {"test": "dataflow.cli.plugin_test_cmd:plugin_test_command"}


class PluginGroup(click.Group):
    """`new` is defined here; the commands in LAZY are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY:
            module_name, attribute = LAZY[name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, name)


@click.group("plugin", cls=PluginGroup)
def plugin_group() -> None:
    """Write a new plugin (`new`) and run one plugin once (`test`).

    The loop: `dataflow plugin new NAME --hook H`, edit plugins/NAME/__init__.py,
    `dataflow plugin test NAME --input FILE`, then `pytest` and `dataflow run P`.
    """


def _pipeline(project: Project, name: str) -> Pipeline:
    """A YAML pipeline without asking the store; a stored one (or PipelineNotFound)."""
    return project.yaml_pipelines.pipelines.get(name) or project.config.pipeline(name)


@plugin_group.command("new")
@click.argument("name")
@click.option("--hook", required=True, help="The hook (stage) it runs in.")
@click.option("--pipeline", default=None,
              help="The pipeline it runs in (PIPELINES); default: every pipeline with the hook.")
@project_option
@handles_errors
def new_command(name, hook, pipeline, project_dir) -> None:
    """Write plugins/NAME/__init__.py (PLUGIN_NAME, HOOKS, PIPELINES, VERSION,
    CONFIG_SCHEMA, OUTPUT_SCHEMA and run) and tests/test_NAME.py. NAME must be a Python
    identifier; an existing plugin is refused and nothing is overwritten."""
    project = open_project(project_dir)
    found = _pipeline(project, pipeline) if pipeline is not None else None
    plugin_dir = project.settings.plugin_paths[0] if project.settings.plugin_paths else "plugins"
    written = new_plugin(project.directory, plugin_dir, name, hook, pipeline)
    for path in written:
        console.print(f"wrote {path.relative_to(project.directory)}", markup=False)
    if found is not None and hook not in found.hooks:
        console.print(f"note: pipeline {pipeline} has no hook {hook!r}; add it to its hooks "
                      "in config/pipelines.yaml for the plugin to run there", markup=False)
    console.print(f"next: dataflow plugin test {name}" + (f" --pipeline {pipeline}"
                                                          if pipeline else ""), markup=False)
