"""`dataflow serve`: the control panel, the REST API and the engine in one process."""
from __future__ import annotations

import click

from dataflow.cli.common import console, handles_errors, open_project, project_option
from dataflow.web.server import serve_forever, start_server


@click.command("serve")
@click.option("--address", default=None,
              help="Address to bind (default: ui.host in system.yaml, 127.0.0.1). Any other "
                   "address than loopback requires the admin token ($DATAFLOW_ADMIN_TOKEN).")
@click.option("--port", type=int, default=None,
              help="Port of the control panel and the API (default: ui.port, 5006; 0 = any).")
@project_option
@handles_errors
def serve_command(address, port, project_dir):
    """Serve the control panel (Panel), the REST API (/api/...), /health and /metrics on
    one port, with the engine, its Dask cluster and CPU governor, and the cron loop.

    While it runs, `dataflow run` and `dataflow cancel` for this project go through it.
    Ctrl-C stops it cleanly: running runs are cancelled and recorded.
    """
    project = open_project(project_dir)
    settings = project.settings
    parts = start_server(project, address or settings.ui_host,
                         settings.ui_port if port is None else port)
    web = parts.web
    console.print(f"control panel  {web.url}/", markup=False)
    console.print(f"REST API       {web.url}/api/openapi.json", markup=False)
    console.print(f"Dask dashboard {web.dask_dashboard or '(not available)'}", markup=False)
    if web.requires_token:
        console.print("admin token required (log in with $DATAFLOW_ADMIN_TOKEN)", markup=False)
    console.print("Ctrl-C stops the server; running runs are cancelled and recorded",
                  markup=False)
    serve_forever(parts)
    console.print("server stopped", markup=False)
