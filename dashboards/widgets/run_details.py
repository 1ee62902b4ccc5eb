"""A run's details as HTML: its summary, its tasks (status, worker, timings, job progress,
attempts, errors with tracebacks) and the config and plugin versions it ran with."""
from __future__ import annotations

import html
import json

from dashboards import formats
from dashboards.run_model import RunModel
from dashboards.site import Site
from dataflow.outputs import describe_rows


def _pre(text: str) -> str:
    return (f'<pre style="white-space:pre-wrap;font-size:11px;background:#f7f7f7;'
            f'padding:4px;margin:2px 0">{html.escape(text)}</pre>')


def summary_html(site: Site, model: RunModel) -> str:
    run = model.run
    items = [("pipeline", site.link("runs", run.get("pipeline", ""), pipeline=run.get("pipeline"))),
             ("status", formats.badge(run.get("status"))),
             ("trigger", html.escape(run.get("trigger") or "")),
             ("started", formats.when(run.get("started")) + " UTC"),
             ("finished", formats.when(run.get("finished")) + (" UTC" if run.get("finished")
                                                                else "")),
             ("duration", formats.duration(run.get("duration"))),
             ("tasks", formats.counts_text(run.get("counts"))),
             ("orchestrated by", html.escape(f"{run.get('host', '')} pid {run.get('pid', '')}"))]
    for key, label in (("resumed_from", "resumes"), ("resumed_by", "resumed by")):
        if run.get(key):
            items.append((label, site.link("run", formats.short_id(run[key]), id=run[key])))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{label}</th>"
                    f"<td>{value}</td></tr>" for label, value in items if value)
    error = model.first_error()
    first = ""
    if error:
        first = (f'<div class="first-error" style="color:#c62828"><b>first error</b> '
                 f'({html.escape(error[0])}): {html.escape(str(error[1].get("error")))}</div>')
    return (f'<div class="run-summary" data-status="{html.escape(str(run.get("status")))}">'
            f'<code class="run-id">{html.escape(model.run_id)}</code>'
            f'<table>{cells}</table>{first}</div>')


def _progress(task: dict) -> str:
    progress = task.get("progress") or {}
    if describe_rows(task.get("stream") or progress):      # a streamed task: rows, chunks
        return html.escape(describe_rows(task.get("stream") or progress))
    done, total = progress.get("done"), progress.get("total")
    if not total:
        return ""
    share = max(0.0, min(1.0, (done or 0) / total))
    return (f'<div title="{done}/{total} jobs" style="width:120px;background:#eee">'
            f'<div style="width:{share * 100:.0f}%;background:#1f77b4;color:white;'
            f'font-size:10px;padding-left:3px">{done}/{total}</div></div>')


def _error_cell(task: dict) -> str:
    if not task.get("error"):
        return ""
    text = html.escape(str(task["error"]))
    trace = task.get("traceback")
    if not trace:
        return f'<span class="task-error">{text}</span>'
    return (f'<details class="task-error"><summary>{text}</summary>{_pre(trace)}</details>')


def _attempts(task: dict) -> str:
    attempts = task.get("attempts") or []
    if len(attempts) <= 1:
        return ""
    return f"{len(attempts)} attempts"


def tasks_html(model: RunModel) -> str:
    head = "".join(f"<th style='text-align:left'>{name}</th>" for name in (
        "task", "version", "status", "worker", "started (UTC)", "took", "jobs", "attempts",
        "error"))
    rows = []
    for key, task in model.tasks.items():
        extra = " (marked successful)" if task.get("marked_success") else ""
        extra += " (reused)" if task.get("reused") else ""
        version = html.escape(str(task.get("plugin_version") or ""))
        cells = (f"<code>{html.escape(key)}</code>",
                 f'<span title="source {html.escape((task.get("source_hash") or "")[:12])}">'
                 f'{version}</span>', formats.badge(task.get("status")) + extra,
                 html.escape(task.get("worker") or ""), formats.when(task.get("started")),
                 formats.duration(task.get("duration")), _progress(task), _attempts(task),
                 _error_cell(task))
        rows.append(f'<tr class="task-row" data-task="{html.escape(key)}" '
                    f'data-status="{html.escape(str(task.get("status")))}">'
                    + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return (f'<table class="tasks-table" style="width:100%;border-collapse:collapse">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<style>.tasks-table td{padding:3px 8px;border-bottom:1px solid #eee;'
            'vertical-align:top}</style>')


def config_html(model: RunModel) -> str:
    """Per task: the plugin version and source hash it ran, and its config (JSON)."""
    rows = []
    for key, task in model.tasks.items():
        config = json.dumps(task.get("config"), indent=1, sort_keys=True, default=str)
        rows.append(
            f'<tr class="config-row" data-task="{html.escape(key)}"><td><code>'
            f'{html.escape(key)}</code></td><td>{html.escape(str(task.get("plugin_version")))}'
            f'</td><td><code>{html.escape((task.get("source_hash") or "")[:12])}</code></td>'
            f'<td><details><summary>config</summary>{_pre(config)}</details></td></tr>')
    head = "<tr><th>task</th><th>plugin version</th><th>source</th><th>config</th></tr>"
    return (f'<table class="config-table" style="width:100%">{head}{"".join(rows)}</table>')
