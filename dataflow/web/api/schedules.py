"""The schedule routes: every scheduled pipeline's policy and next fire times (DST and
catch-up applied), the recent fire records and the lease (GET /api/schedules), and
pausing or resuming a schedule without editing its config.

The server's running loop, if any, is `web.extras["scheduler"]`; its status is added.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tornado.web import RequestHandler

from dataflow.errors import DataflowError
from dataflow.schedule.clock import SystemClock
from dataflow.schedule.describe import parse_horizon
from dataflow.schedule.overview import schedule_overview, set_paused
from dataflow.web.api.base import ApiHandler
from dataflow.web.api.route import Call, Param, Route, bad_input

LIST_PARAMS = (
    Param("next", description="how far ahead to list fire times: 90m, 24h, 7d", default="24h"),
    Param("pipeline", description="only this pipeline"),
    Param("recent", "integer", "fire records listed", default=20, minimum=0, maximum=500))
API_OPERATOR = "api"


def list_schedules(call: Call) -> dict:
    try:
        horizon = parse_horizon(call.query["next"])
    except DataflowError as error:
        raise bad_input("next", str(error)) from None
    data = schedule_overview(call.web.project, SystemClock().now(), horizon,
                             call.query["recent"], call.query["pipeline"])
    loop = call.web.extras.get("scheduler")
    if loop is not None:
        data["loop"] = {key: value for key, value in loop.status().items() if key != "pipelines"}
    return data


def pause(call: Call) -> dict:
    return set_paused(call.web.project, call.path["pipeline"], True, API_OPERATOR)


def resume(call: Call) -> dict:
    return set_paused(call.web.project, call.path["pipeline"], False, API_OPERATOR)


ROUTES = (
    Route("GET", "/api/schedules", list_schedules, "Each scheduled pipeline's policy, pause "
          "state and next fire times, recent fires and the scheduler's lease",
          params=LIST_PARAMS, errors=(404, 422), tag="schedules"),
    Route("POST", "/api/schedules/{pipeline}/pause", pause, "Pause a pipeline's schedule "
          "(stored; wins over `paused:` in its config)", errors=(404, 409, 422),
          tag="schedules"),
    Route("POST", "/api/schedules/{pipeline}/resume", resume, "Resume a pipeline's schedule",
          errors=(404, 409, 422), tag="schedules"),
)


def SCHEDULE_ROUTES(web) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:  # noqa: N802
    """(pattern, handler, kwargs) of these routes, for mounting them by hand; listing this
    module in `dataflow.web.api.RESOURCES` is the simpler way (and adds them to OpenAPI)."""
    pool = ThreadPoolExecutor(2, thread_name_prefix="dataflow-api-schedules")
    return [(route.pattern, ApiHandler, {"web": web, "routes": {route.method: route},
                                         "pool": pool}) for route in ROUTES]
