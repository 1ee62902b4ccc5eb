"""The shape of an OUTPUT_SCHEMA, checked when a plugin loads (no pandas imported here:
the CLI's light commands load plugins too). worker/output_check.py checks outputs.

A DataFrame schema is `{"columns": {name: dtype | {"dtype", "nullable"}}}` or that
mapping alone; anything else is a JSON Schema for plain data.
"""
from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

KIND_NAMES = ("float", "int", "integer", "number", "numeric", "bool", "datetime", "string")
# pandas/numpy dtype names: int64, Int64, uint8, float32, Float64, datetime64[ns, UTC], ...
DTYPE_NAME = re.compile(r"^(object|bool|boolean|category|str|string|complex(64|128)?"
                        r"|u?int(8|16|32|64)?|U?Int(8|16|32|64)|[Ff]loat(16|32|64)"
                        r"|(datetime|timedelta)64(\[(ns|us|ms|s)(, .+)?\])?)$")
# words only a JSON Schema has at its top: a dict with one of them is never a column map
SCHEMA_WORDS = set(Draft202012Validator.VALIDATORS) | {
    "$schema", "$id", "$defs", "title", "description", "default", "examples", "$comment"}


def column_specs(schema: dict) -> dict | None:
    """{column: {"dtype", "nullable", ...}} of a DataFrame schema; None for a JSON Schema."""
    columns = schema.get("columns")
    if isinstance(columns, dict) and set(schema) <= {"columns", "description"}:
        mapping = columns
    elif schema and not set(schema) & SCHEMA_WORDS and all(
            isinstance(v, str) or (isinstance(v, dict) and "dtype" in v) for v in schema.values()):
        mapping = schema
    else:
        return None
    return {str(name): ({"dtype": spec, "nullable": True} if isinstance(spec, str)
                        else {"nullable": True, **spec}) for name, spec in mapping.items()}


def _dtype_error(dtype: Any) -> str | None:
    if not isinstance(dtype, str):
        return f"dtype must be a string, got {dtype!r}"
    if dtype in KIND_NAMES or DTYPE_NAME.match(dtype):
        return None
    return (f"unknown dtype {dtype!r}: use a pandas dtype name (float64, int64, object, "
            f"datetime64[ns], ...) or one of {', '.join(KIND_NAMES)}")


def _column_error(spec: dict) -> str | None:
    unknown = set(spec) - {"dtype", "nullable"}
    if unknown:
        return f"unknown key(s) {', '.join(sorted(unknown))} (use dtype, nullable)"
    if not isinstance(spec["nullable"], bool):
        return f"nullable must be true or false, got {spec['nullable']!r}"
    return _dtype_error(spec.get("dtype"))


def schema_problem(schema: Any) -> str | None:
    """Why an OUTPUT_SCHEMA cannot be used, or None."""
    if not isinstance(schema, dict):
        return f"OUTPUT_SCHEMA must be a dict, got {type(schema).__name__}"
    specs = column_specs(schema)
    if specs is None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            return f"OUTPUT_SCHEMA is not a valid JSON Schema: {error.message}"
        return None
    for name, spec in specs.items():
        problem = _column_error(spec)
        if problem:
            return f"OUTPUT_SCHEMA column {name!r}: {problem}"
    return None
