"""dataflow's pytest plugin (entry point `pytest11`): fixtures for plugin authors' tests.

    dataflow_project   a temporary copy (config/, plugins/) of the project under test: the
                       folder of $DATAFLOW_PROJECT, else pytest's rootdir. Runs write
                       their history, logs and checkpoints there, never into the project.
    dataflow_engine    an Engine on that copy: a small LocalCluster (1 worker process,
                       2 threads) and the store the copy's system.yaml names (by default
                       an embedded one in the copy, stopped at the end of the session)
    run_plugin(engine, "my_plugin", inputs={"upstream": data}, config={...})
                       runs one plugin once, alone: a PluginRun with .ok, .output,
                       .error, .logs and .messages("INFO")

Both fixtures live for the session (a cluster takes seconds to start); after editing a
plugin inside a test, `dataflow_engine.project.reload()` picks up the new source.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from dataflow.config.pipelines import PIPELINES_FILE
from dataflow.project import Project
from dataflow.run.engine import Engine
from dataflow.run.single import PluginRun, run_plugin_once
from dataflow.store.connection import STATE_DIR
from dataflow.store.embedded import stop_embedded_server

__all__ = ["PluginRun", "run_plugin", "copy_project", "project_under_test"]
COPIED = ("config", "plugins")
run_plugin = run_plugin_once


def project_under_test(rootdir: Path) -> Path:
    """$DATAFLOW_PROJECT, else pytest's rootdir, else the first parent that is a project."""
    named = os.environ.get("DATAFLOW_PROJECT")
    for folder in ([Path(named)] if named else [rootdir, *rootdir.parents]):
        if (folder / PIPELINES_FILE).is_file():
            return folder.resolve()
    raise pytest.UsageError(
        f"dataflow_project: no dataflow project at {named or rootdir} (no {PIPELINES_FILE}); "
        "run pytest in a project folder (see `dataflow init`) or set $DATAFLOW_PROJECT")


def copy_project(source: Path, target: Path) -> Path:
    """config/ and plugins/ of `source` (and any other plugin paths inside it) to `target`."""
    for folder in COPIED:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, target / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "plugins").mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="session")
def dataflow_project(request, tmp_path_factory) -> Path:
    """A temporary copy of the project under test (see the module's docstring)."""
    source = project_under_test(Path(str(request.config.rootpath)))
    return copy_project(source, tmp_path_factory.mktemp("dataflow") / source.name)


@pytest.fixture(scope="session")
def dataflow_engine(dataflow_project) -> Iterator[Engine]:
    """An Engine on the copied project, a 1-worker LocalCluster and its store."""
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    project = Project(dataflow_project)
    engine = Engine(project, client=client)
    try:
        yield engine
    finally:
        engine.close()
        project.close()
        client.close()
        cluster.close()
        if (dataflow_project / STATE_DIR).exists():
            stop_embedded_server(dataflow_project / STATE_DIR)
