"""The run routes: the history a page at a time, one run with its tasks, its logs, and the
operator's actions on one run (cancel, resume, mark a task done) and on two (compare)."""
from __future__ import annotations

from dataflow.statuses import RunStatus, TaskStatus
from dataflow.store.history import find_run_id, get_run
from dataflow.store.logs import read_logs
from dataflow.store.run_pages import MAX_LIMIT, count_runs, page_runs
from dataflow.web.api.compare import compare_runs
from dataflow.web.api.route import Call, Param, Route, bad_input
from dataflow.web.api.single_flight import SingleFlight

RUN = "/api/runs/{run_id}"
STATUSES = tuple(str(status) for status in RunStatus)
LIST_PARAMS = (
    Param("pipeline", description="only runs of this pipeline"),
    Param("status", description="only runs in this status", enum=STATUSES),
    Param("trigger", description="only runs started this way (cli, api, cron, resume, ...)"),
    Param("since", "date-time", "only runs started at or after this time"),
    Param("until", "date-time", "only runs started at or before this time"),
    Param("limit", "integer", "runs a page", default=50, minimum=1, maximum=MAX_LIMIT),
    Param("before", description="the `next` cursor of the previous page"),
    Param("count", "boolean", "also count every match (`total`; slow on a large history)",
          default=False))
LOG_PARAMS = (
    Param("plugin", description="only this plugin's records"),
    Param("level", "array", "only these levels, comma-separated (INFO,ERROR)"),
    Param("after", "integer", "only records after this `seq`", default=0, minimum=0),
    Param("limit", "integer", "records at most", default=1000, minimum=1, maximum=10_000))
PLUGIN = Param("plugin", description="the plugin (task) to act on")
PAGES = SingleFlight()        # dashboards polling the same page at once share one query
RESUME_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "failed_only": {"type": "boolean", "description": "re-run only failed and timed-out tasks"},
    "again": {"type": "boolean", "description": "resume a run that was resumed before (its "
              "plugins' side effects repeat); without it such a run is refused (409)"}}}


def list_runs(call: Call) -> dict:
    query = dict(call.query)
    wanted = query.pop("count")
    if query["since"] and query["until"] and query["since"] > query["until"]:
        raise bad_input("since", "must not be later than until")
    db = call.web.project.db
    page = dict(PAGES.run((db.name, tuple(sorted(query.items()))),
                          lambda: page_runs(db, **query)))
    if wanted:
        page["total"] = count_runs(db, **{
            key: query[key] for key in ("pipeline", "status", "trigger", "since", "until")})
    return page


def show_run(call: Call) -> dict:
    return get_run(call.web.project.db, call.path["run_id"])


def run_logs(call: Call) -> dict:
    db, query = call.web.project.db, call.query
    run_id = find_run_id(db, call.path["run_id"])
    records = read_logs(db, run_id, query["plugin"], [level.upper() for level in query["level"]]
                        if query["level"] else None, query["after"], query["limit"])
    for record in records:
        record.pop("_id", None)
    return {"run_id": run_id, "logs": records,
            "next_after": records[-1]["seq"] if records else query["after"]}


def _full_id(call: Call) -> str:
    """A run id prefix completed from this server's own runs first: the history writer may
    not have stored a run that started a moment ago."""
    given = call.path["run_id"]
    mine = [run_id for run_id in call.web.service.active() if run_id.startswith(given)]
    return mine[0] if len(mine) == 1 else given


def cancel_run(call: Call) -> dict:
    run_id = call.web.service.cancel(_full_id(call), call.query["plugin"])
    return {"run_id": run_id, "plugin": call.query["plugin"], "cancel_requested": True}


def resume_run(call: Call) -> dict:
    old = find_run_id(call.web.project.db, call.path["run_id"])
    body = call.body or {}
    new = call.web.service.resume(old, failed_only=bool(body.get("failed_only")),
                                  again=bool(body.get("again")))
    return {"run_id": new, "resumed_from": old, "status": RunStatus.RUNNING,
            "url": f"/api/runs/{new}"}


def mark_success(call: Call) -> dict:
    plugin = call.query["plugin"]
    run = call.web.service.mark_success(call.path["run_id"], plugin)
    return {"run_id": run["_id"], "plugin": plugin, "status": TaskStatus.COMPLETED}


def compare(call: Call) -> dict:
    db = call.web.project.db
    return compare_runs(get_run(db, call.query["a"]), get_run(db, call.query["b"]))


ROUTES = (
    Route("GET", "/api/runs", list_runs, "Runs newest first, filtered, a page at a time "
          "(keyset: pass `next` as `before`); no tasks, config or tracebacks",
          LIST_PARAMS, errors=(422,), tag="runs"),
    Route("GET", "/api/runs/compare", compare, "Two runs side by side: status, duration and "
          "outcome per task, config and plugin-version differences, first errors",
          (Param("a", description="a run id (or unique prefix)", required=True),
           Param("b", description="the other run id (or unique prefix)", required=True)),
          errors=(404, 422), tag="runs"),
    Route("GET", RUN, show_run, "One run with its tasks (the id may be a unique prefix)",
          errors=(404,), tag="runs"),
    Route("GET", RUN + "/logs", run_logs, "A run's log records, oldest first",
          LOG_PARAMS, errors=(404, 422), tag="runs"),
    Route("POST", RUN + "/cancel", cancel_run, "Cancel a running run (or one of its plugins)",
          (PLUGIN,), status=202, errors=(404, 409), tag="runs"),
    Route("POST", RUN + "/resume", resume_run, "Run a finished run again as a new run; "
          "completed tasks are restored from checkpoints", body=RESUME_BODY, status=202,
          errors=(404, 409), tag="runs"),
    Route("POST", RUN + "/mark_success", mark_success, "Declare one task of a finished run "
          "done, so a resume skips it", (Param("plugin", description="the plugin whose task "
                                               "to mark", required=True),),
          errors=(404, 409, 422), tag="runs"),
)
