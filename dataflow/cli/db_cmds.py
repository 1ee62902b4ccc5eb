"""`dataflow db status|migrate|stop`: the store's schema version, pending migrations,
collections, and the embedded server's lifecycle."""
from __future__ import annotations

import click
from rich.table import Table

from dataflow.cli.common import (console, handles_errors, open_project, print_json, project_option,
                                 when)
from dataflow.errors import Conflict
from dataflow.statuses import RunStatus
from dataflow.store.connection import STATE_DIR
from dataflow.store.embedded import embedded_server_info, stop_embedded_server
from dataflow.store.history import list_runs
from dataflow.store.schema import ensure_schema, schema_status
from dataflow.store.status import migration_title, store_status


@click.group("db")
def db_group() -> None:
    """The store (MongoDB): schema version, pending migrations, collections; the embedded
    server's pid, port, data folder and size, and `db stop` to stop it.

    Pending migrations are also applied when any command first opens the store.
    """


def _schema_line(status: dict) -> str:
    version, latest = status["version"], status["latest"]
    if version > latest:
        return (f"version {version}, newer than this dataflow knows ({latest}): upgrade "
                "dataflow before using this store")
    if status["pending"]:
        numbers = ", ".join(str(m["version"]) for m in status["pending"])
        return (f"version {version} (latest {latest}); pending migrations: {numbers}; apply "
                "them with `dataflow db migrate`")
    migrated = f", migrated {when(status['migrated_at'])}" if status["migrated_at"] else ""
    return f"version {version} (latest {latest}): up to date{migrated}"


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@project_option
@handles_errors
def status_command(as_json, project_dir) -> None:
    """Print the store's URI (without credentials), whether it is the embedded server, its
    schema version and pending migrations, and its collections with document counts."""
    project = open_project(project_dir)
    status = store_status(project.store_address)
    server = embedded_server_info(project.directory / STATE_DIR) if status["embedded"] else None
    if as_json:
        print_json({**status, "server": server})
        return
    kind = "embedded server under .dataflow/" if status["embedded"] else "external server"
    console.print(f"store     {status['uri']} ({kind})", markup=False)
    if server is not None:
        console.print(f"server    pid {server['pid']}, port {server['port']}, data "
                      f"{server['storage']} ({_size(server['bytes'])}); stop it with "
                      "`dataflow db stop`", markup=False, soft_wrap=True)
    console.print(f"database  {status['database']} (plugins' data: {status['data_database']})",
                  markup=False)
    console.print(f"schema    {_schema_line(status)}", markup=False, soft_wrap=True)
    for migration in status["pending"]:
        console.print(f"  pending {migration['version']}: {migration['title']}", markup=False)
    table = Table(show_edge=False)
    table.add_column("collection")
    table.add_column("documents", justify="right")
    for name, count in status["collections"].items():
        table.add_row(name, str(count))
    console.print(table if status["collections"] else "collections: none yet")


@db_group.command("migrate")
@project_option
@handles_errors
def migrate_command(project_dir) -> None:
    """Apply the store's pending schema migrations, in order, and print each."""
    db = open_project(project_dir).store_address.system_db()
    status = schema_status(db)
    if status["version"] > status["latest"]:
        raise Conflict(f"the store's schema is version {status['version']}, newer than "
                            f"this dataflow knows ({status['latest']}); upgrade dataflow")
    applied = ensure_schema(db)
    for version in applied:
        console.print(f"applied migration {version}: {migration_title(version)}", markup=False)
    final = schema_status(db)["version"]
    console.print(f"store schema is at version {final}"
                  + ("" if applied else ": up to date, nothing to migrate"), markup=False)


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024       # type: ignore[assignment]
    return str(count)


@db_group.command("stop")
@click.option("--force", is_flag=True, help="Stop it even while runs are going.")
@project_option
@handles_errors
def stop_command(force, project_dir) -> None:
    """Stop the project's embedded database server (it starts again with the next command
    that needs it). Refused while runs of the project are going, unless --force."""
    project = open_project(project_dir)
    if project.settings.store_uri:
        console.print("the store is an external server (DATAFLOW_MONGO_URI or store.uri); "
                      "dataflow does not run it, so nothing was stopped", markup=False)
        return
    state_dir = project.directory / STATE_DIR
    server = embedded_server_info(state_dir)
    if server is None:
        console.print(f"no embedded server is running for {project.directory}; nothing "
                      "was stopped", markup=False)
        return
    running = list_runs(project.db, status=RunStatus.RUNNING, limit=5)
    if running and not force:
        ids = ", ".join(run["_id"][:12] for run in running)
        raise Conflict(f"runs are going on the embedded server ({ids}); nothing was stopped. "
                       "Fix: wait for them or cancel them (`dataflow cancel RUN`), or stop "
                       "it anyway with `dataflow db stop --force`")
    project.close()
    stop_embedded_server(state_dir)
    console.print(f"stopped the embedded server (pid {server['pid']}, port {server['port']}, "
                  f"data {server['storage']}, {_size(server['bytes'])})", markup=False)
