"""The REST API (JSON in and out), mounted next to the Panel pages on the same port.

One module a resource, each with its ROUTES: plugins (spec 000), pipelines, runs, bulk
(actions on a filter), health (/health, /metrics); a new resource (the scheduler's
schedules) adds its module to RESOURCES. `api_routes(web)` turns the table into Tornado
patterns for `pn.serve(extra_patterns=...)`; /api/openapi.json describes the same table.
"""
from __future__ import annotations

import importlib.metadata
from concurrent.futures import ThreadPoolExecutor

from tornado.web import RequestHandler

from dataflow.web.api import bulk, gates, health, pipelines, plugins, runs, schedules
from dataflow.web.api.base import ApiHandler, NoRoute
from dataflow.web.api.route import Call, Route
from dataflow.web.context import WebContext
from dataflow.web.metrics import metrics_for
from dataflow.web.openapi import openapi_document

RESOURCES = (plugins, pipelines, runs, bulk, schedules, gates, health)
API_THREADS = 8          # route functions run here: store queries block


def _version() -> str:
    try:
        return importlib.metadata.version("dataflow")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def openapi(call: Call) -> dict:
    return openapi_document(route_table(), _version())


def route_table() -> list[Route]:
    """Every route, the OpenAPI document's own included."""
    return [route for module in RESOURCES for route in module.ROUTES] + [
        Route("GET", "/api/openapi.json", openapi, "This document (OpenAPI 3.1)",
              tag="operations")]


def _literal_first(path: str) -> tuple:
    """Fixed paths before parameterised ones (/api/runs/compare before /api/runs/{run_id})."""
    return tuple((part.startswith("{"), part) for part in path.split("/"))


def api_routes(web: WebContext) -> list[tuple[str, type[RequestHandler], dict]]:
    """(pattern, handler, kwargs) for every API path, then a JSON 404 for any other /api."""
    metrics_for(web)                   # listens to run events from the start
    pool = web.extras["api_pool"] = ThreadPoolExecutor(API_THREADS,
                                                       thread_name_prefix="dataflow-api")
    by_path: dict[str, dict[str, Route]] = {}
    for route in route_table():
        by_path.setdefault(route.path, {})[route.method] = route
    patterns: list[tuple[str, type[RequestHandler], dict]] = [
        (routes_[next(iter(routes_))].pattern, ApiHandler,
         {"web": web, "routes": routes_, "pool": pool})
        for path, routes_ in sorted(by_path.items(), key=lambda item: _literal_first(item[0]))]
    patterns.append((r"/api(/.*)?", NoRoute, {"web": web, "routes": {}, "pool": pool}))
    return patterns


__all__ = ["Call", "Route", "api_routes", "route_table"]
