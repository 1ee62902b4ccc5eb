"""The API's route table entries: one `Route` per method and path, with its parameters and
body schema. The handler, the OpenAPI document and the tests are all driven from them.

Query values are parsed by their declared type here (an unknown or malformed parameter
is an InvalidInput naming it); a body is checked against the route's JSON Schema.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dataflow.config.schema_check import config_field_errors
from dataflow.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from dataflow.web.context import WebContext

PATH_PARAM = re.compile(r"{(\w+)}")
TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no")


def bad_input(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", [Problem("", field_name, message)])


@dataclass(frozen=True)
class Param:
    """A query parameter: type string | integer | boolean | date-time | array (comma list)."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] = ()

    def parse(self, text: str):
        value = _PARSERS[self.type](self.name, text)
        if self.enum and value not in self.enum:
            raise bad_input(self.name, f"must be one of {', '.join(self.enum)}")
        if self.minimum is not None and value < self.minimum:
            raise bad_input(self.name, f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise bad_input(self.name, f"must be at most {self.maximum}")
        return value


def parse_time(name: str, text: str) -> datetime:
    """An ISO 8601 date or date-time; naive times are UTC."""
    if "T" in text:            # a "+" of the offset arrives as a space when not escaped
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_input(name, f"{text!r} is not an ISO 8601 date-time, "
                              "e.g. 2024-01-31T09:30:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise bad_input(name, f"{text!r} is not an integer") from None


def _boolean(name: str, text: str) -> bool:
    if text.lower() not in TRUE + FALSE:
        raise bad_input(name, f"{text!r} is not a boolean (true or false)")
    return text.lower() in TRUE


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "string": lambda name, text: text, "integer": _integer, "boolean": _boolean,
    "date-time": parse_time, "array": lambda name, text: [p for p in text.split(",") if p]}


@dataclass
class Call:
    """One request as a route function sees it: path values, parsed query, JSON body."""

    web: WebContext
    path: dict[str, str]
    query: dict[str, Any]
    body: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Raw:
    """A reply that is not JSON (the Prometheus text format)."""

    content_type: str
    body: bytes


@dataclass(frozen=True)
class Route:
    method: str
    path: str                                     # OpenAPI style: /api/runs/{run_id}
    call: Callable[[Call], Any]
    summary: str
    params: tuple[Param, ...] = ()
    body: dict | None = None                      # JSON Schema of the request body
    body_required: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()                  # besides the ones every route may give
    tag: str = ""
    auth: bool = True
    result: dict = field(default_factory=lambda: {"type": "object"})
    content_type: str = "application/json"

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def pattern(self) -> str:
        """The Tornado URL pattern (named groups for the path parameters)."""
        parts = PATH_PARAM.split(self.path)     # literal, name, literal, name, ...
        return "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
                       for index, part in enumerate(parts)) + "/?"

    def parse_query(self, arguments: dict[str, list[bytes]]) -> dict[str, Any]:
        known = {param.name: param for param in self.params}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise bad_input(unknown[0], "unknown query parameter; this route takes "
                            + (", ".join(sorted(known)) or "none"))
        values = {}
        for name, param in known.items():
            given = arguments.get(name)
            if given is None and param.required:
                raise bad_input(name, "required query parameter is missing")
            text = given[-1].decode("utf-8", "replace") if given else None
            values[name] = param.parse(text) if text not in (None, "") else param.default
        return values

    def check_body(self, body) -> Any:
        if body is None and self.body_required:
            raise bad_input("(body)", "a JSON body is required")
        if self.body is None and body not in (None, {}):
            raise bad_input("(body)", "this route takes no body: send {} or nothing")
        if body is not None and self.body is not None:
            errors = config_field_errors(body, self.body)
            if errors:
                raise InvalidInput("the request body is invalid: " + "; ".join(
                    f"{e['field']}: {e['message']}" for e in errors),
                    [Problem("", e["field"], e["message"]) for e in errors])
        return body
