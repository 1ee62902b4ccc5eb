"""What the pages' buttons do, over the RunService (never the REST API): trigger (with a
one-off JSON config override, or one plugin only), cancel a run or one plugin, resume,
mark a task successful, and the bulk actions on the runs page's current filter.

Each returns an `Outcome` the page shows; a refusal (bad JSON, a config the schema
refuses, a run not running, ...) is an Outcome too, never an exception.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from dataflow.errors import ConfigValidationError, DataflowError, InvalidInput
from dataflow.statuses import ACTIVE_RUN_STATUSES, RESUMABLE_RUN_STATUSES, RunStatus
from dataflow.store.run_views import RunFilter, matching_run_ids

log = logging.getLogger("dashboards.actions")
TRIGGER = "ui"
FLUSH_WAIT = 5.0       # seconds a trigger waits for its run to be in the store


@dataclass
class Outcome:
    ok: bool
    text: str
    run_ids: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)     # field errors of a config


def attempt(what: str, action: Callable[[], Outcome]) -> Outcome:
    """Run an action; a DataflowError becomes a refusal, anything else is logged."""
    try:
        return action()
    except ConfigValidationError as error:
        return Outcome(False, f"{what} refused: {error}", errors=list(error.errors))
    except DataflowError as error:
        return Outcome(False, f"{what} refused: {error}")
    except Exception as error:         # a bug: say so, keep the page alive
        log.exception("%s failed", what)
        return Outcome(False, f"{what} failed unexpectedly: {type(error).__name__}: {error}")


def parse_overrides(text: str | None) -> dict:
    """{plugin: {field: value}} from the JSON typed into the trigger form ("" = none)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidInput(f"the override is not valid JSON: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InvalidInput('the override must map plugin ids to objects of config fields, '
                           'e.g. {"technical_indicators": {"sma_period": 50}}')
    return value


def _started(service, run_id: str, text: str) -> Outcome:
    service.project.recorder.flush(FLUSH_WAIT)     # its page can open at once
    return Outcome(True, text, [run_id])


def trigger(service, pipeline: str, overrides_text: str | None = "",
            plugins: list[str] | None = None) -> Outcome:
    def go():
        overrides = parse_overrides(overrides_text)
        run_id = service.trigger(pipeline, trigger=TRIGGER, overrides=overrides or None,
                                 plugins=list(plugins or []) or None)
        only = f" ({', '.join(plugins)} only)" if plugins else ""
        return _started(service, run_id, f"started {pipeline}{only}: run {run_id[:8]}")
    return attempt("trigger", go)


def cancel(service, run_id: str, plugin: str | None = None) -> Outcome:
    def go():
        full = service.cancel(run_id, plugin)
        what = f"plugin {plugin} of run" if plugin else "run"
        return Outcome(True, f"cancel requested for {what} {full[:8]}", [full])
    return attempt("cancel", go)


def resume(service, run_id: str, failed_only: bool) -> Outcome:
    def go():
        new_id = service.resume(run_id, failed_only=failed_only)
        kind = "failed tasks" if failed_only else "everything not done"
        return _started(service, new_id, f"resumed {run_id[:8]} ({kind}) as run {new_id[:8]}")
    return attempt("resume", go)


def mark_success(service, run_id: str, plugin: str) -> Outcome:
    def go():
        service.mark_success(run_id, plugin)
        return Outcome(True, f"{plugin} of run {run_id[:8]} marked successful", [run_id])
    return attempt("mark successful", go)


def _each(ids: list[str], act: Callable[[str], Outcome], verb: str) -> Outcome:
    results = [act(run_id) for run_id in ids]
    done = [r.run_ids[0] for r in results if r.ok and r.run_ids]
    refused = [r.text for r in results if not r.ok]
    text = f"{verb} {len(done)} of {len(ids)} matching runs"
    if refused:
        text += f"; {len(refused)} refused (first: {refused[0]})"
    return Outcome(not refused, text, done)


def bulk_cancel(service, run_filter: RunFilter) -> Outcome:
    """Cancel every running run that matches the filter."""
    def go():
        ids = matching_run_ids(service.project.db, run_filter, ACTIVE_RUN_STATUSES)
        return _each(ids, lambda run_id: cancel(service, run_id), "cancel requested for")
    return attempt("cancel matching runs", go)


def bulk_resume(service, run_filter: RunFilter, failed_only: bool = True) -> Outcome:
    """Resume every failed run that matches the filter (every resumable one when the
    filter names a resumable status), skipping runs resumed already."""
    def go():
        statuses = RESUMABLE_RUN_STATUSES if run_filter.status else (RunStatus.FAILED,)
        ids = matching_run_ids(service.project.db, run_filter, statuses, exclude_resumed=True)
        return _each(ids, lambda run_id: resume(service, run_id, failed_only), "resumed")
    return attempt("resume matching runs", go)
