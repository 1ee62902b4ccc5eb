"""`dataflow run` in this process: its own cluster, live progress, Ctrl-C as a clean cancel.

The first Ctrl-C cancels the run (queued tasks never start, running plugins are asked
to stop, then stopped) and waits until it is recorded `cancelled`; a second Ctrl-C
leaves at once.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any, Callable

from rich.markup import escape

from dataflow.cli import phases
from dataflow.cluster.client import wants_dashboard
from dataflow.cluster.shutdown import exit_now
from dataflow.alerts.service import AlertService
from dataflow.cli.common import console, err_console
from dataflow.cli.progress import ProgressView
from dataflow.model import RunPlan
from dataflow.project import Project
from dataflow.run.engine import Engine
from dataflow.run.preconditions import check_preconditions, gate_plugins, record_gated
from dataflow.run.result import RunResult
from dataflow.store.retention_auto import wait_for_retention

EXIT_AT_ONCE = 130        # the shell's code for a process stopped by SIGINT
# Dask's own loggers report a worker restarted by a hard cancel (CommClosedError ...) with
# tracebacks; the run records what happened, so the terminal shows only that (--verbose
# keeps them).
DASK_LOGGERS = ("distributed", "tornado")
RETENTION_WAIT = 30.0     # seconds the CLI waits at most for a retention pass it started
ALERT_FLUSH = 5.0         # seconds the CLI waits at most for its alerts before it leaves


def _quiet_dask() -> None:
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _note_empty_hooks(plan: RunPlan) -> None:
    for hook, stage in zip(plan.hooks, plan.stages):
        if not stage:
            console.print(f"[yellow]note:[/] hook {hook} has no plugins in pipeline "
                          f"{plan.pipeline}; it is skipped")


def _second_interrupt_leaves() -> Callable[[int, FrameType | None], Any] | int | None:
    """After the first Ctrl-C: the next one ends the process at once; returns the
    handler it replaced (what `signal.signal` returns: a function, SIG_DFL / SIG_IGN, or
    None when the handler was not installed from Python)."""
    def leave(signum: int, frame: FrameType | None) -> None:
        err_console.print("\nstopped at once; the run will be marked interrupted")
        os._exit(EXIT_AT_ONCE)
    return signal.signal(signal.SIGINT, leave)


def _started_holding_interrupt(start: Callable[[], Any]) -> tuple[Any, bool]:
    """`start()`, with a Ctrl-C during it held back until it returns (so the run it starts
    is cancelled, not abandoned half-started); (its result, whether Ctrl-C came)."""
    if threading.current_thread() is not threading.main_thread():
        return start(), False
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        return start(), bool(held)
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_cancelling(engine: Engine, handle, interrupted: bool = False) -> RunResult:
    try:
        if interrupted:             # Ctrl-C came while the run was being started
            raise KeyboardInterrupt
        return engine.wait(handle)
    except KeyboardInterrupt:
        if threading.current_thread() is not threading.main_thread():
            raise
        previous = _second_interrupt_leaves()
        err_console.print(f"\ncancelling run {handle.run_id} (Ctrl-C again to stop at once)")
        engine.cancel(handle.run_id)
        try:
            return engine.wait(handle)
        finally:
            signal.signal(signal.SIGINT, previous)


def _admit(project: Project, plan: RunPlan, force: bool, upstream: list[str],
           run_fields: dict) -> tuple[RunPlan, dict]:
    """Refuse the run if a gate is closed or (unless forced, or run with its upstream) an
    upstream is stale; leave out plugins behind a closed gate (noted, recorded skipped)."""
    check_preconditions(project, plan.pipeline, force, bool(upstream))
    plan, gated = gate_plugins(project, plan)
    for task in gated:
        console.print(f"[yellow]note:[/] {escape(task['task_id'])} is skipped: "
                      f"{escape(task['error'])}", soft_wrap=True)
    return plan, {**run_fields, **({"forced": True} if force else {}),
                  **({"upstream": upstream} if upstream else {}),
                  **({"gated": gated} if gated else {})}


def run_here(project: Project, plan: RunPlan, *, verbose: bool, as_json: bool,
             use_cache: bool, run_fields: dict, force: bool = False,
             upstream: list[str] | None = None) -> RunResult:
    """Run `plan` on this process's own cluster; returns once it is recorded and its
    alerts are sent (or ALERT_FLUSH seconds have passed). Refused (PreconditionUnmet)
    while a gate is closed or, unless `force`, an upstream is stale."""
    plan, run_fields = _admit(project, plan, force, list(upstream or ()), run_fields)
    if not verbose:
        _quiet_dask()
    alerts = AlertService.if_configured(project)
    try:
        result = _run_with_engine(project, plan, alerts, verbose, as_json, use_cache,
                                  run_fields)
    finally:
        if alerts is not None:
            alerts.stop(ALERT_FLUSH)
    project.close()
    phases.mark("history_flushed")
    return result


def _run_with_engine(project: Project, plan: RunPlan, alerts: AlertService | None,
                     verbose: bool, as_json: bool, use_cache: bool, run_fields: dict
                     ) -> RunResult:
    engine = Engine(project, dashboard=wants_dashboard(project.settings.cluster, verbose))
    try:
        if alerts is not None:
            engine.add_listener(alerts.on_event, "alerts")
        engine.client           # start the cluster now, so the dashboard link exists
        assert engine.resources is not None     # started with the client
        phases.mark("cluster_started")
        if verbose:
            console.print(f"Dask dashboard: {engine.dashboard}")
        _note_empty_hooks(plan)
        view = ProgressView(plan, live=False if as_json else None,
                            resources=engine.resources.snapshot)
        with view:
            def start():
                handle = engine.start(plan.pipeline, "cli", [] if as_json else [view],
                                      plan=plan, use_cache=use_cache, run_fields=run_fields)
                record_gated(project.recorder, handle.run_id, plan.pipeline,
                             run_fields.get("gated", []))
                return handle
            handle, interrupted = _started_holding_interrupt(start)
            result = _wait_cancelling(engine, handle, interrupted)
        phases.mark("run_finished")
    except BaseException:
        engine.close()
        raise
    engine.close(for_exit=True)     # `leave` kills its workers once all is recorded
    phases.mark("cluster_closed")
    return result


def resume_here(project: Project, plan: RunPlan, run_id: str, *, failed_only: bool,
                again: bool, verbose: bool) -> RunResult:
    """`dataflow resume`'s run of `plan` on this process's own cluster, with live progress."""
    engine = Engine(project, dashboard=wants_dashboard(project.settings.cluster, verbose))
    try:
        engine.client           # the cluster, started now (for the dashboard's link)
        phases.mark("cluster_started")
        if verbose:
            console.print(f"Dask dashboard: {engine.dashboard}")
        with ProgressView(plan, resources=lambda: engine.resources.snapshot()
                          if engine.resources else {}) as view:
            result = engine.resume(run_id, failed_only, listeners=[view], again=again)
        phases.mark("run_finished")
    except BaseException:
        engine.close()
        raise
    engine.close(for_exit=True)     # like `dataflow run`: its workers killed as it leaves
    project.close()
    return result


def leave(code: int) -> None:
    """End this process with `code` now that its run is recorded: no graceful teardown
    of a cluster nobody will use again (~0.3–0.8 s of every `dataflow run`)."""
    wait_for_retention(RETENTION_WAIT)      # a pass after this run (at most one per
    phases.report()                         # retention.every_minutes) is not cut short
    exit_now(code)
