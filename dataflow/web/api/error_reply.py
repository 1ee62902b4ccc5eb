"""What the API answers when a request fails: a status and a JSON body, chosen by the class
of the exception (dataflow.errors), never a traceback.

    NotFound 404 · Conflict 409 · InvalidInput 422 (with the fields) · StoreUnavailable and
    a store that stopped answering 503 · any other DataflowError 400 · Tornado's own
    HTTPError (401, 403, 405, 415, bad JSON 400) its status · anything else 500, with an
    id that finds the traceback in the server's log.
"""
from __future__ import annotations

import json

from pymongo.errors import PyMongoError
from tornado.web import HTTPError

from dataflow.errors import (
    ConfigValidationError,
    Conflict,
    DataflowError,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)

BY_CLASS = ((NotFound, 404), (Conflict, 409), (InvalidInput, 422), (StoreUnavailable, 503),
            (DataflowError, 400))
STORE_DOWN = ("store unavailable: MongoDB did not answer; check that it runs "
              "(GET /health shows the store's state)")


def _invalid_body(error: InvalidInput) -> dict:
    fields = error.field_errors()
    if isinstance(error, ConfigValidationError):
        fields = [{**entry, "plugin": error.plugin_id} for entry in fields]
    body = {"error": str(error), "fields": fields,
            "problems": [problem.as_dict() for problem in error.problems]}
    if isinstance(error, ConfigValidationError):
        body.update(plugin=error.plugin_id, pipeline=error.pipeline)
    return body


def _http_body(error: HTTPError) -> dict:
    body = {"error": error.log_message or error.reason or f"HTTP {error.status_code}"}
    cause = error.__cause__
    if isinstance(cause, json.JSONDecodeError):
        body.update(line=cause.lineno, column=cause.colno, position=cause.pos)
    return body


def error_reply(error: BaseException | None, status: int, error_id: str | None) -> tuple[int, dict]:
    """(status, JSON body) for an exception raised while handling a request."""
    if isinstance(error, HTTPError):
        return error.status_code, _http_body(error)
    if isinstance(error, InvalidInput):
        return 422, _invalid_body(error)
    for cls, code in BY_CLASS:
        if isinstance(error, cls):
            return code, {"error": str(error)}
    if isinstance(error, PyMongoError):
        return 503, {"error": STORE_DOWN, "id": error_id}
    if error is None and status < 500:
        return status, {"error": f"HTTP {status}"}
    return 500, {"error": "internal error", "id": error_id}


def is_expected(error: BaseException | None) -> bool:
    """Errors that are the client's (or the store's) doing: logged without a traceback."""
    return isinstance(error, (HTTPError, DataflowError))
