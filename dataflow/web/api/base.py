"""The one handler class behind every API path: checks who asks and from where, parses the
query and the JSON body, runs the route's function on a worker thread (store queries
block; the IOLoop also serves the Panel pages) and answers in JSON — errors included,
mapped from their exception class (error_reply), never an HTML page.
"""
from __future__ import annotations

import json
import logging
import math
import uuid
from concurrent.futures import Executor
from datetime import date, datetime
from typing import Any

from bson import ObjectId
from tornado.ioloop import IOLoop
from tornado.web import HTTPError, RequestHandler

from dataflow.web.api.error_reply import error_reply, is_expected
from dataflow.web.api.route import Call, Raw, Route
from dataflow.web.auth import api_identity, check_csrf, check_host, check_origin
from dataflow.web.context import WebContext

log = logging.getLogger("dataflow.web.api")
CHANGING = ("POST", "PUT", "PATCH", "DELETE")
JSON_TYPE = "application/json"


def _encode(value: Any):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (ObjectId, bytes)):
        return str(value) if isinstance(value, ObjectId) else value.hex()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def _finite(value: Any):
    """NaN and infinities (a plugin's log fields, a pandas figure) as null: valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=_encode, allow_nan=False)
    except ValueError:              # rare: walk the value only when it holds NaN
        return json.dumps(_finite(value), default=_encode, allow_nan=False)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """The body as JSON (None when empty); HTTPError 400 naming where it is broken."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise HTTPError(400, f"the body is not UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise HTTPError(400, f"invalid JSON body: {error}") from error
    except ValueError as error:
        raise HTTPError(400, f"invalid JSON body: {error}") from None


class ApiHandler(RequestHandler):
    """Serves the routes of one path (one Route per method)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, web: WebContext, routes: dict[str, Route], pool: Executor) -> None:
        self.web, self.routes, self.pool = web, routes, pool
        self.body: Any = None
        self.error_id: str | None = None

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def prepare(self) -> None:
        route = self.routes.get(self.request.method or "")
        if route is None:
            raise HTTPError(405, f"{self.request.method} is not allowed here; allowed: "
                                 f"{', '.join(sorted(self.routes))}")
        identity = api_identity(self.web, self) if route.auth else "none"
        if route.auth:
            check_host(self.web, self)
        if self.request.method in CHANGING:
            self._check_change(identity)
            self.body = route.check_body(parse_json(self.request.body))

    def _check_change(self, identity: str) -> None:
        check_origin(self.web, self)
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != JSON_TYPE:
            raise HTTPError(415, f"send the request as JSON with Content-Type: {JSON_TYPE} "
                                 f"(got {content_type[:100] or 'none'!r})")
        if identity == "cookie":
            check_csrf(self)

    async def _dispatch(self, **path: str) -> None:
        route = self.routes[self.request.method or ""]
        call = Call(self.web, path, route.parse_query(self.request.arguments), self.body)
        result = await IOLoop.current().run_in_executor(self.pool, route.call, call)
        if isinstance(result, Raw):
            self.set_header("Content-Type", result.content_type)
            self.finish(result.body)
            return
        self.set_status(call.extra.get("status", route.status))
        self.reply(result)

    get = post = put = patch = delete = _dispatch

    def reply(self, value: Any) -> None:
        self.set_header("Content-Type", f"{JSON_TYPE}; charset=utf-8")
        self.finish(to_json(value))

    def log_exception(self, typ, value, tb) -> None:
        if is_expected(value):
            log.info("%s %s: %s", self.request.method, self.request.path, value)
            return
        self.error_id = uuid.uuid4().hex[:12]
        log.error("error %s in %s %s", self.error_id, self.request.method, self.request.path,
                  exc_info=(typ, value, tb))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        status, body = error_reply(error, status_code, self.error_id)
        self.set_status(status)
        if status == 405:
            self.set_header("Allow", ", ".join(sorted(self.routes)))
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="dataflow"')
        self.reply(body)


class NoRoute(ApiHandler):
    """Any other /api path: a JSON 404 rather than the server's HTML page."""

    def prepare(self) -> None:
        raise HTTPError(404, f"no API route {self.request.path!r}; "
                             "GET /api/openapi.json lists them")
