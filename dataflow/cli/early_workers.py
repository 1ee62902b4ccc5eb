"""A CLI run's workers, started before its plugins are imported (cluster/worker_server.py).

Its own module: it loads Dask's config, which the CLI's lightweight commands never import.
"""
from __future__ import annotations

from dataflow.cluster.worker_server import start_worker_server
from dataflow.errors import DataflowError
from dataflow.project import Project


def start_workers_early(project: Project) -> None:
    """For a run on this process's own cluster: start the worker server its workers are
    forked from (cluster/worker_server.py) now, so their imports overlap the plugins'. A
    project whose settings do not load is left to the validation that reports it."""
    try:
        settings = project.settings
    except DataflowError:
        return
    if not settings.cluster.address:
        start_worker_server([project.directory / path for path in settings.plugin_paths])
