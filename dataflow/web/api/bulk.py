"""Actions on every run a filter matches: cancel the running ones, resume the failed ones
(each failed run once: runs already resumed are left out). One run refusing does not stop
the others; the reply lists what was done and what was refused, and why."""
from __future__ import annotations

from dataflow.errors import DataflowError
from dataflow.statuses import ACTIVE_RUN_STATUSES, RESUMABLE_RUN_STATUSES, RunStatus
from dataflow.store.run_pages import matching_run_ids
from dataflow.web.api.route import Call, Route, bad_input, parse_time

MAX_RUNS = 1000
FILTER = {"pipeline": {"type": "string"}, "trigger": {"type": "string"},
          "since": {"type": "string", "description": "ISO 8601: runs started at or after"},
          "until": {"type": "string", "description": "ISO 8601: runs started at or before"},
          "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RUNS, "default": 100}}
CANCEL_BODY = {"type": "object", "additionalProperties": False, "properties": {
    **FILTER, "status": {"enum": sorted(str(s) for s in ACTIVE_RUN_STATUSES)}}}
RESUME_BODY = {"type": "object", "additionalProperties": False, "properties": {
    **FILTER, "status": {"enum": [str(s) for s in RESUMABLE_RUN_STATUSES],
                         "description": "default: failed"},
    "failed_only": {"type": "boolean", "description": "re-run only failed tasks"}}}


def _filter(body: dict) -> dict:
    chosen = {key: body.get(key) for key in ("pipeline", "trigger")}
    for key in ("since", "until"):
        chosen[key] = parse_time(key, body[key]) if body.get(key) else None
    if chosen["since"] and chosen["until"] and chosen["since"] > chosen["until"]:
        raise bad_input("since", "must not be later than until")
    chosen["limit"] = body.get("limit", 100)
    return chosen


def _each(run_ids: list[str], action) -> tuple[list, list]:
    done, refused = [], []
    for run_id in run_ids:
        try:
            done.append(action(run_id))
        except DataflowError as error:       # e.g. it ended meanwhile
            refused.append({"run_id": run_id, "error": str(error)})
    return done, refused


def cancel_matching(call: Call) -> dict:
    body = call.body or {}
    run_ids = matching_run_ids(call.web.project.db, ACTIVE_RUN_STATUSES, **_filter(body))
    done, refused = _each(run_ids, call.web.service.cancel)
    return {"matched": len(run_ids), "cancelled": done, "refused": refused}


def resume_matching(call: Call) -> dict:
    body, service = call.body or {}, call.web.service
    status = body.get("status") or RunStatus.FAILED
    run_ids = matching_run_ids(call.web.project.db, [status], not_resumed=True, **_filter(body))

    def resume(run_id: str) -> dict:
        return {"run_id": run_id, "new_run_id": service.resume(
            run_id, failed_only=bool(body.get("failed_only")))}
    done, refused = _each(run_ids, resume)
    return {"matched": len(run_ids), "resumed": done, "refused": refused}


ROUTES = (
    Route("POST", "/api/runs/cancel", cancel_matching, "Cancel every running run the filter "
          "matches (the body is the filter; {} matches all)", body=CANCEL_BODY,
          body_required=True, errors=(422,), tag="runs"),
    Route("POST", "/api/runs/resume", resume_matching, "Resume every run the filter matches "
          "that is failed (or the given status) and not resumed yet", body=RESUME_BODY,
          body_required=True, errors=(422,), tag="runs"),
)
