"""The `dataflow` command: run pipelines on Dask, inspect plugins and run history."""
from __future__ import annotations

import click

from dataflow.cli.control_cmds import cancel_command
from dataflow.cli.inspect_cmds import plugins_command, runs_command, show_command, validate_command
from dataflow.cli.run_cmd import run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dataflow")
def cli():
    """dataflow: named pipelines of hooks, run as Dask graphs, history in MongoDB.

    A project directory holds config/pipelines.yaml, config/system.yaml and
    plugins/. Commands use the current directory, or --project DIR, or
    $DATAFLOW_PROJECT. With no MongoDB configured ($DATAFLOW_MONGO_URI or
    store.uri in system.yaml) an embedded server is started under .dataflow/.
    """


for command in (run_command, cancel_command, validate_command, plugins_command, runs_command, show_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="dataflow")
