"""Config values from the command line: KEY=VALUE pairs, --json text or a --file.

Values are YAML, so `window=5` is an int, `adjust=true` a bool and `tickers=[AAPL, IBM]`
a list; dates stay strings (the store keeps JSON types). A dotted key sets a nested
field: `bands.width=2` gives {"bands": {"width": 2}}.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from dataflow.errors import InvalidInput

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class PlainLoader(yaml.SafeLoader):
    """YAML's safe loader without implicit timestamps: '2024-01-31' stays a string."""


PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _yaml_value(key: str, text: str):
    try:
        return yaml.load(text, Loader=PlainLoader)
    except yaml.YAMLError as error:
        reason = getattr(error, "problem", None) or str(error)
        raise InvalidInput(
            f"the value of {key!r} ({text!r}) is not valid YAML: {reason}; quote it to pass a "
            f"string, e.g. {key}=\"'{text}'\"") from None


def _set_path(values: dict, key: str, value) -> None:
    parts = key.split(".")
    node = values
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InvalidInput(f"{key!r} sets a field inside {part!r}, which is also given a "
                                "plain value; give one or the other")
        node = child
    node[parts[-1]] = value


def parse_assignments(assignments) -> dict:
    """KEY=VALUE arguments as a (nested) mapping."""
    values: dict = {}
    for item in assignments:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key or any(not part for part in key.split(".")):
            raise InvalidInput(f"{item!r} is not KEY=VALUE; write e.g. window=5 (a dotted key "
                                "such as bands.width=2 sets a nested field)")
        _set_path(values, key, _yaml_value(key, text))
    return values


def parse_json(text: str) -> dict:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"--json is not valid JSON: {error.msg} at line {error.lineno} "
                            f"column {error.colno}; write e.g. --json '{{\"window\": 5}}'") from None
    if not isinstance(values, dict):
        raise InvalidInput(f"--json must be a JSON object of fields, got {type(values).__name__}; "
                            "write e.g. --json '{\"window\": 5}'")
    return values


def parse_file(path: str) -> dict:
    """A YAML (or JSON) file holding a mapping of fields."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        values = yaml.load(text, Loader=PlainLoader)
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read {path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        reason = getattr(error, "problem", None) or str(error)
        raise InvalidInput(f"{where}: YAML syntax error: {reason}; fix the file and try "
                            "again") from None
    if not isinstance(values, dict):
        raise InvalidInput(f"{path} must hold a mapping of fields (`window: 5` lines or a "
                            f"JSON object), got {type(values).__name__}")
    return values


def parse_values(assignments, json_text: str | None, file_path: str | None) -> dict:
    """The new values, given exactly one way."""
    given = [bool(assignments), json_text is not None, file_path is not None]
    if sum(given) != 1:
        raise InvalidInput("give the new values one way: KEY=VALUE ..., --json '{...}' or "
                            "--file FILE")
    if assignments:
        return parse_assignments(assignments)
    if json_text is not None:
        return parse_json(json_text)
    assert file_path is not None        # exactly one way was given (checked above)
    return parse_file(file_path)
