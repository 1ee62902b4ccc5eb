"""`dataflow init DIR`: a working example project to start from."""
from __future__ import annotations

from pathlib import Path

import click

from dataflow.cli.common import console, handles_errors
from dataflow.plugins.scaffold import init_project


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@handles_errors
def init_command(directory: Path) -> None:
    """Create a dataflow project in DIRECTORY (new or empty): config/pipelines.yaml with a
    `hello` pipeline, config/system.yaml (embedded store), two example plugins
    (plugins/hello_source, plugins/hello_report) and their tests (tests/test_hello.py,
    using dataflow's pytest fixtures). Then: cd DIRECTORY && dataflow run && pytest.
    A folder that is already a project, or not empty, is refused; nothing is overwritten."""
    written = init_project(directory)
    root = directory.expanduser().resolve()
    console.print(f"created a dataflow project in {root}:", markup=False)
    for path in written:
        console.print(f"  {path.relative_to(root)}", markup=False)
    console.print(f"next: cd {directory} && dataflow run && pytest\n"
                  "      dataflow plugin new NAME --hook collect --pipeline hello",
                  markup=False)
