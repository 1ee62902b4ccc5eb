"""`dataflow prune [--dry-run] [--pipeline P] [--json]`: apply the retention policy now."""
from __future__ import annotations

import click

from dataflow.cli.common import console, handles_errors, open_project, print_json, project_option
from dataflow.store.retention import prune
from dataflow.store.retention_plan import PruneReport


def size(count: int) -> str:
    """Bytes for people: 512 B, 2.6 MB, 1.2 GB."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _lines(report: PruneReport) -> list[str]:
    grid = (f", {report.gridfs_files} GridFS files ({report.gridfs_chunks} chunks)"
            if report.gridfs_files else "")
    return [
        f"checkpoints   {report.runs_checkpoints_pruned} runs: {report.checkpoint_files} "
        f"files{grid}, {size(report.checkpoint_bytes)}",
        f"history       {report.runs_deleted} runs (with {report.task_documents} task "
        "documents)",
        f"log records   {report.log_documents} documents",
        f"log files     {report.log_files} files, {size(report.log_file_bytes)}",
    ]


def _policy_line(name: str, policy: dict) -> str:
    def shown(value, unit: str = "") -> str:
        return "forever" if value is None else f"{value:g}{unit}"
    auto = "" if policy["automatic"] else ", not automatic"
    return (f"  {name or '(no pipeline)'}: checkpoints of the last "
            f"{shown(policy['keep_checkpoints_runs'])} runs, history "
            f"{shown(policy['history_days'], ' days')}, logs {shown(policy['log_days'], ' days')}"
            f"{auto}")


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--pipeline", help="Only this pipeline's runs (and their log files).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Also print the policy of each pipeline.")
@project_option
@handles_errors
def prune_command(dry_run, pipeline, as_json, verbose, project_dir) -> None:
    """Apply the retention policy now and report what it freed.

    The policy is `retention:` in config/system.yaml, overridable per pipeline in
    config/pipelines.yaml: keep_checkpoints_runs (checkpoints of the newest N runs of a
    pipeline are kept, and of runs still resumable; default 20), history_days (older
    runs are deleted with their tasks, logs, checkpoints and log file; default 90),
    log_days (log records and logs/<run id>.log files; default 30). 0 or null keeps
    forever. A running run is never touched. It is also applied after every run unless
    `automatic: false`.
    """
    report = prune(open_project(project_dir), dry_run=dry_run, pipeline=pipeline)
    if as_json:
        print_json(report.as_dict())
        return
    if verbose:
        console.print("policy:", markup=False)
        for name, policy in report.pipelines.items():
            console.print(_policy_line(name, policy), markup=False)
    for line in _lines(report):
        console.print(line, markup=False)
    verb = "would free" if dry_run else "freed"
    note = " (dry run: nothing was deleted)" if dry_run else ""
    console.print(f"{verb} {size(report.bytes_freed)} on disk{note}", markup=False)
