"""`dataflow db status|migrate`: the store's schema version, pending migrations, collections."""
from __future__ import annotations

import click
from rich.table import Table

from dataflow.cli.common import (console, handles_errors, open_project, print_json, project_option,
                                 when)
from dataflow.errors import Conflict
from dataflow.store.schema import ensure_schema, schema_status
from dataflow.store.status import migration_title, store_status


@click.group("db")
def db_group() -> None:
    """The store (MongoDB): schema version, pending migrations, collections.

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
    status = store_status(open_project(project_dir).store_address)
    if as_json:
        print_json(status)
        return
    kind = "embedded server under .dataflow/" if status["embedded"] else "external server"
    console.print(f"store     {status['uri']} ({kind})", markup=False)
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
