"""The OpenAPI 3.1 document of the REST API, generated from its route table (so it cannot
drift from what is served): every path and method, its parameters, body, result and the
errors it may answer with."""
from __future__ import annotations

from collections.abc import Iterable

from dataflow.web.api.route import Param, Route

ERROR_TEXT = {
    400: "Bad request: the body is not JSON (the position is given), or another refusal",
    401: "No or a wrong admin token (Authorization: Bearer <token>, or the login cookie)",
    403: "Cross-site request refused (Origin/Referer of another host, Host not this "
         "server, or a missing X-CSRF-Token with the login cookie)",
    404: "No such plugin, pipeline or run",
    405: "Method not allowed here (the Allow header lists those that are)",
    409: "The request clashes with the state of the run (not running, still running, "
         "not resumable)",
    415: "The body must be sent with Content-Type: application/json",
    422: "Invalid input: `fields` names each wrong field ({field, message, plugin?})",
    500: "Internal error: `id` finds the traceback in the server log",
    503: "The store is unavailable"}
ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"},
    "fields": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "message": {"type": "string"},
        "plugin": {"type": "string"}}}},
    "problems": {"type": "array", "items": {"type": "object"}},
    "plugin": {"type": "string"}, "pipeline": {"type": "string"},
    "id": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"},
    "position": {"type": "integer"}}}
NO_BODY = {"type": "object", "maxProperties": 0, "description": "no body: {} or nothing"}
PARAM_SCHEMAS: dict[str, dict] = {"string": {"type": "string"}, "integer": {"type": "integer"},
                 "boolean": {"type": "boolean"},
                 "date-time": {"type": "string", "format": "date-time"},
                 "array": {"type": "array", "items": {"type": "string"}}}


def _param_schema(param: Param) -> dict:
    schema = dict(PARAM_SCHEMAS[param.type])
    extras = {"enum": list(param.enum) or None, "default": param.default,
              "minimum": param.minimum, "maximum": param.maximum}
    schema.update({key: value for key, value in extras.items() if value is not None})
    return schema


def _parameters(route: Route) -> list[dict]:
    listed = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in route.path_params]
    for param in route.params:
        entry = {"name": param.name, "in": "query", "required": param.required,
                 "schema": _param_schema(param)}
        if param.type == "array":
            entry.update(style="form", explode=False)
        if param.description:
            entry["description"] = param.description
        listed.append(entry)
    return listed


def _error_codes(route: Route) -> list[int]:
    codes = set(route.errors) | {405, 500}
    if route.auth:
        codes |= {401, 403, 503}
    if route.method != "GET":
        codes |= {400, 403, 415, 422}
    return sorted(codes)


def _responses(route: Route) -> dict:
    ok = {"description": route.summary, "content": {route.content_type: {
        "schema": route.result}}}
    responses = {str(route.status): ok}
    for code in _error_codes(route):
        responses[str(code)] = {"description": ERROR_TEXT[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return responses


def operation(route: Route) -> dict:
    op = {"summary": route.summary, "operationId": f"{route.method.lower()}"
          f"{route.path.replace('/', '_').replace('{', '').replace('}', '')}",
          "tags": [route.tag] if route.tag else [], "parameters": _parameters(route),
          "responses": _responses(route)}
    if route.method != "GET":
        op["requestBody"] = {"required": route.body_required, "content": {
            "application/json": {"schema": route.body or NO_BODY}}}
    if not route.auth:
        op["security"] = []
    return op


def openapi_document(routes: Iterable[Route], version: str = "") -> dict:
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "dataflow REST API", "version": version or "1",
                 "description": "Pipelines, plugins, runs and operations of a dataflow "
                                "server. With an admin token configured, every route but "
                                "/health needs it (Bearer) or the login cookie plus the "
                                "X-CSRF-Token header for changes."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"Error": ERROR_SCHEMA}, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "dataflow_session"}}},
        "security": [{"bearer": []}, {"cookie": []}]}
