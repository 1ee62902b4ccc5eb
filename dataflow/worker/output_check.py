"""OUTPUT_SCHEMA: what a plugin's output must look like, checked after `run` succeeds.

Two forms (pure functions, no I/O):

    {"columns": {"close": "float64", "volume": {"dtype": "int64", "nullable": False}}}
    {"close": "float64", "volume": {"dtype": "int64", "nullable": False}}

describe a pandas DataFrame, or each DataFrame of a dict of them, column by column
(a column may also be the index's name). A dtype is a pandas dtype name ("float64",
"datetime64[ns]", "object") or a kind: "float", "int", "number", "bool", "datetime",
"string". `nullable` defaults to true. Any other dict is a JSON Schema for plain data.
The schema's shape is checked at load by plugins/output_schema.py (`schema_problem`).

pandas is not imported here: a DataFrame output means the plugin imported it already, and
every worker would otherwise pay ~0.4 s to load it for plugins that never use it.
"""
from __future__ import annotations

import sys
from typing import Any

from jsonschema import Draft202012Validator

from dataflow.plugins.output_schema import column_specs

MAX_PROBLEMS = 10
# kind -> the pandas.api.types predicate that tells it
KINDS = {"float": "is_float_dtype", "int": "is_integer_dtype", "integer": "is_integer_dtype",
         "number": "is_numeric_dtype", "numeric": "is_numeric_dtype", "bool": "is_bool_dtype",
         "datetime": "is_datetime64_any_dtype", "string": "is_string_dtype"}


def _pandas():
    """The pandas module if something in this process imported it (None otherwise)."""
    return sys.modules.get("pandas")


def _is_frame(value: Any) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(value, pd.DataFrame)


def _dtype_matches(expected: str, found) -> bool:
    types = _pandas().api.types
    if expected == "string" and types.is_object_dtype(found):
        return True
    if expected in KINDS:
        return bool(getattr(types, KINDS[expected])(found))
    try:
        return bool(types.pandas_dtype(expected) == found)
    except (TypeError, ValueError):
        return False


def _series(frame, name: str):
    if name in frame.columns:
        return frame[name]
    if name in (frame.index.names or []):
        return frame.index.get_level_values(name).to_series()
    return None


def frame_problems(frame, specs: dict, where: str = "") -> list[str]:
    """Each column of `specs` the frame lacks, has of another dtype, or has nulls in."""
    problems = []
    for name, spec in specs.items():
        column = _series(frame, name)
        if column is None:
            problems.append(f"{where}column {name!r} expected {spec['dtype']}, found no such "
                            f"column (columns: {', '.join(map(str, frame.columns)) or 'none'})")
        elif not _dtype_matches(spec["dtype"], column.dtype):
            problems.append(f"{where}column {name!r} expected {spec['dtype']}, "
                            f"found {column.dtype}")
        elif not spec["nullable"] and column.isna().any():
            problems.append(f"{where}column {name!r} expected no nulls (nullable: false), "
                            f"found {int(column.isna().sum())}")
    return problems


def _frames_problems(specs: dict, output: Any) -> list[str]:
    if _is_frame(output):
        return frame_problems(output, specs)
    if isinstance(output, dict) and all(_is_frame(value) for value in output.values()):
        return [problem for key, frame in output.items()
                for problem in frame_problems(frame, specs, f"frame {key!r}: ")]
    return [f"expected a DataFrame or a dict of DataFrames, found {type(output).__name__}"]


def _field(error) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return f"field {path!r}: " if path else ""


def output_problems(schema: dict | None, output: Any) -> list[str]:
    """What in `output` breaks `schema` (empty when it matches or there is no schema)."""
    if not schema:
        return []
    specs = column_specs(schema)
    if specs is not None:
        return _frames_problems(specs, output)[:MAX_PROBLEMS]
    errors = sorted(Draft202012Validator(schema).iter_errors(output),
                    key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_field(error)}{error.message}" for error in errors[:MAX_PROBLEMS]]
