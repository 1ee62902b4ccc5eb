"""`dataflow plugin test NAME`: run one plugin once on given inputs with the real services
(the project's store and cluster settings) and print its output, its logs and the
schema checks (config against CONFIG_SCHEMA, output against OUTPUT_SCHEMA)."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd
from rich.text import Text

from dataflow.cli.common import console, handles_errors, open_project, project_option, styled
from dataflow.errors import InvalidInput
from dataflow.outputs import describe, summarize
from dataflow.run.engine import Engine
from dataflow.run.single import PluginRun, run_plugin_once
from dataflow.worker.output_check import output_problems

if TYPE_CHECKING:
    from dataflow.plugins.contract import PluginInfo
    from dataflow.project import Project

MAPPING_SUFFIXES = (".json", ".pkl", ".pickle")
READERS = {".json": lambda p: json.loads(p.read_text(encoding="utf-8")),
           ".pkl": lambda p: pickle.loads(p.read_bytes()),
           ".pickle": lambda p: pickle.loads(p.read_bytes()),
           ".parquet": pd.read_parquet, ".csv": pd.read_csv}
PREVIEW_KEYS = 8


def read_input_file(path: Path) -> Any:
    """The value in an input file, by its extension; InvalidInput naming the file if not."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidInput(f"--input {path}: unsupported file type {path.suffix or '(none)'}; "
                           f"give a {', '.join(READERS)} file")
    if not path.is_file():
        raise InvalidInput(f"--input {path}: no such file")
    try:
        return reader(path)
    except Exception as error:      # any parser's complaint, said with the file's name
        raise InvalidInput(f"--input {path}: cannot be read as {path.suffix[1:]}: "
                           f"{type(error).__name__}: {error}") from None


def read_inputs(specs: tuple[str, ...]) -> dict[str, Any]:
    """{upstream plugin id: output} from `--input [ID=]FILE` options: ID=FILE gives that
    plugin's output; a bare .json/.pkl file holds the whole mapping; a bare .parquet/.csv
    is the output of the plugin named like the file (prices.csv → "prices")."""
    inputs: dict[str, Any] = {}
    for spec in specs:
        name, given, file_name = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = Path(file_name)
        value = read_input_file(path)
        if given:
            inputs[name] = value
        elif path.suffix.lower() in MAPPING_SUFFIXES:
            if not isinstance(value, dict):
                raise InvalidInput(f"--input {path}: must hold an object {{upstream plugin id: "
                                   f"its output}}, got {type(value).__name__}; or give "
                                   f"--input ID={path} for one plugin's output")
            inputs.update({str(key): item for key, item in value.items()})
        else:
            inputs[path.stem] = value
    return inputs


def read_config(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"--config is not valid JSON: {error}; give an object, e.g. "
                           "'{\"window\": 5}'") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"--config must be a JSON object, got {type(config).__name__}")
    return config


def _checks(done: PluginRun, schema: dict | None) -> list[tuple[bool | None, str]]:
    """(passed, what) of each schema check; None: not checked."""
    checks: list[tuple[bool | None, str]] = [(True, "config matches CONFIG_SCHEMA")]
    if not schema:
        checks.append((None, "output: no OUTPUT_SCHEMA to check it against"))
    elif done.ok:
        problems = output_problems(schema, done.output)
        checks.append((not problems, "output matches OUTPUT_SCHEMA" if not problems else
                       "output does not match OUTPUT_SCHEMA: " + "; ".join(problems)))
    elif "OUTPUT_SCHEMA" in (done.error or ""):
        checks.append((False, done.error or ""))
    else:
        checks.append((None, "output: none to check (the plugin did not complete)"))
    return checks


def _print_output(value: Any) -> None:
    console.print(f"output: {describe(summarize(value))}", markup=False)
    if hasattr(value, "head") and hasattr(value, "columns"):
        console.print(value.head(5).to_string(), markup=False)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:PREVIEW_KEYS]:
            console.print(f"  {key}: {repr(item)[:200]}", markup=False)
    else:
        console.print(f"  {repr(value)[:1000]}", markup=False)


def print_report(done: PluginRun, schema: dict | None, version: str) -> None:
    console.print(f"plugin {done.plugin} {version} · pipeline {done.pipeline} · run "
                  f"{done.run_id[:12]}: {styled(done.status)}", soft_wrap=True)
    console.print(f"config: {json.dumps(done.config, sort_keys=True, default=str)}",
                  markup=False, soft_wrap=True)
    if done.ok:
        _print_output(done.output)
    console.print(f"logs ({len(done.logs)}):", markup=False)
    for record in done.logs:
        console.print(f"  {record.get('level', ''):<8} {record.get('message', '')}",
                      markup=False, soft_wrap=True)
    console.print("schema checks:", markup=False)
    for passed, what in _checks(done, schema):
        mark = ("✓ ", "green") if passed else ("- ", "dim") if passed is None else ("✗ ", "red")
        console.print(Text.assemble("  ", mark, what), soft_wrap=True)
    if done.error and "OUTPUT_SCHEMA" not in done.error:     # else said by the check above
        console.print(Text.assemble(("error: ", "red"), done.error), soft_wrap=True)
        if done.traceback:
            console.print(done.traceback, markup=False)


def _loaded(project: Project, name: str) -> PluginInfo:
    """The plugin, or why it did not load (its problems), or PluginNotFound."""
    if name not in project.registry.plugins:
        problems = [p for p in project.registry.problems if name in f"{p.file} {p.key}"]
        if problems:
            raise InvalidInput(f"plugin {name!r} did not load:\n" + "\n".join(
                f"  - {problem}" for problem in problems), problems)
    return project.registry.get(name)


@click.command("test")
@click.argument("name")
@click.option("--pipeline", default=None,
              help="The pipeline whose config it gets (default: the first of its PIPELINES).")
@click.option("--hook", default=None, help="The hook it runs in (default: its first HOOK).")
@click.option("--input", "input_specs", multiple=True, metavar="[ID=]FILE",
              help="Upstream output it gets in context['inputs'] (repeatable): ID=FILE for "
                   "plugin ID's output (.json .pkl .parquet .csv); a bare .json/.pkl holds "
                   "the whole {ID: output} mapping; a bare .parquet/.csv is named by its file.")
@click.option("--config", "config_text", metavar="JSON",
              help="Config values for this run, merged over its effective config.")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds to wait for the plugin.")
@project_option
@handles_errors
def plugin_test_command(name, pipeline, hook, input_specs, config_text, timeout,
                        project_dir) -> None:
    """Run plugin NAME once, alone, on the given inputs with the real services (its
    context, db, jobs and log; the project's store and cluster), and print its output
    summary, its log records and the schema checks. Nothing else of the pipeline runs;
    the run is recorded with trigger "test". Exit status 0 when it completed and its
    output matches OUTPUT_SCHEMA, else 1."""
    inputs, config = read_inputs(input_specs), read_config(config_text)
    project = open_project(project_dir)
    info = _loaded(project, name)
    with Engine(project) as engine:
        done = run_plugin_once(engine, name, inputs, config, pipeline, hook, timeout)
    print_report(done, info.output_schema, info.version)
    if not done.ok or any(passed is False for passed, _ in _checks(done, info.output_schema)):
        sys.exit(1)
