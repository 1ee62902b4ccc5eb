"""The `dataflow` command: run pipelines on Dask, inspect plugins and run history.

Subcommands are imported when used, so `dataflow runs` does not pay for
importing Dask: COMMANDS maps each name to "module:attribute".
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys

import click

from dataflow.project import close_all_projects

COMMANDS = {
    "run": "dataflow.cli.run_cmd:run_command",
    "cancel": "dataflow.cli.cancel_cmd:cancel_command",
    "resume": "dataflow.cli.resume_cmds:resume_command",
    "mark-success": "dataflow.cli.resume_cmds:mark_success_command",
    "logs": "dataflow.cli.logs_cmd:logs_command",
    "validate": "dataflow.cli.inspect_cmds:validate_command",
    "plugins": "dataflow.cli.inspect_cmds:plugins_command",
    "reload": "dataflow.cli.reload_cmd:reload_command",
    "runs": "dataflow.cli.inspect_cmds:runs_command",
    "show": "dataflow.cli.inspect_cmds:show_command",
    "config": "dataflow.cli.config_cmds:config_group",
    "pipelines": "dataflow.cli.pipeline_cmds:pipelines_group",
    "db": "dataflow.cli.db_cmds:db_group",
    "serve": "dataflow.cli.serve_cmd:serve_command",
    "output": "dataflow.cli.output_cmd:output_command",
    "schedule": "dataflow.cli.schedule_cmds:schedule_group",
    "scheduler": "dataflow.cli.schedule_cmds:scheduler_command",
    "alert": "dataflow.cli.alert_cmds:alert_group",
    "gate": "dataflow.cli.gate_cmds:gate_group",
    "graph": "dataflow.cli.graph_cmd:graph_command",
    "init": "dataflow.cli.init_cmd:init_command",
    "plugin": "dataflow.cli.plugin_cmds:plugin_group",
    "prune": "dataflow.cli.prune_cmd:prune_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dataflow")
def cli() -> None:
    """dataflow: named pipelines of hooks, run as Dask graphs, history in MongoDB.

    A project directory holds config/pipelines.yaml, config/system.yaml and
    plugins/. Commands use the current directory, or --project DIR, or
    $DATAFLOW_PROJECT. With no MongoDB configured ($DATAFLOW_MONGO_URI or
    store.uri in system.yaml) an embedded server is started under .dataflow/.
    """


def _workers_skip_the_script() -> None:
    """Dask spawns each local worker process, and spawning re-imports the parent's __main__:
    for the `dataflow` console script, the whole CLI (~0.3 s of every worker's start).
    Named as `python -m dataflow` names it, multiprocessing skips it, as it should."""
    script = sys.modules.get("__main__")
    if script is not None and getattr(script, "__spec__", None) is None:
        script.__spec__ = importlib.util.find_spec("dataflow.__main__")


def main() -> None:
    """Run the CLI, then leave at once: pymongo's monitor threads would hold the
    interpreter ~0.5 s at exit. Everything queued for the store is flushed first."""
    code = 0
    # A shell without job control starts `cmd &` with SIGINT ignored, and Python keeps
    # it so: `kill -INT` would then never cancel a background `dataflow run`.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _workers_skip_the_script()
    try:
        cli(prog_name="dataflow")
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
    close_all_projects()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
