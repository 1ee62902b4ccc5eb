"""Write a plugin's output to a file a user can open, by the file's extension.

A DataFrame goes to Parquet or CSV; a dict of DataFrames (e.g. one per ticker) too,
stacked with its keys as the first index level (`key`); anything else to JSON (DataFrames
inside as lists of records) or pickle.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pandas as pd

from dataflow.errors import InvalidInput
from dataflow.outputs import describe, is_frame, summarize

FRAME_SUFFIXES = (".parquet", ".csv")
OTHER_SUFFIXES = (".json", ".pkl", ".pickle")


def _as_frame(value: Any) -> pd.DataFrame | None:
    """The output as one DataFrame, when it is one or a dict of them; else None."""
    if is_frame(value):
        return value
    if isinstance(value, dict) and value and all(is_frame(v) for v in value.values()):
        return pd.concat(value, names=["key"])
    return None


def _jsonable(value: Any) -> Any:
    """DataFrames inside dicts become lists of records (dates as ISO text)."""
    if is_frame(value):
        return json.loads(value.reset_index().to_json(orient="records", date_format="iso"))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def export(value: Any, path: Path) -> str:
    """Write `value` to `path` by its extension; returns what was written."""
    suffix = path.suffix.lower()
    what = describe(summarize(value))
    if suffix in FRAME_SUFFIXES:
        frame = _as_frame(value)
        if frame is None:
            raise InvalidInput(f"{path.name}: {suffix} is for DataFrames (or a dict of them), and "
                               f"this output is {what}; write it to .json or .pkl")
        frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path)
    elif suffix == ".json":
        path.write_text(json.dumps(_jsonable(value), indent=2, default=str))
    elif suffix in (".pkl", ".pickle"):
        path.write_bytes(pickle.dumps(value, protocol=5))
    else:
        raise InvalidInput(f"{path.name}: unknown file type {suffix or '(none)'}; use "
                           f"{', '.join(FRAME_SUFFIXES + OTHER_SUFFIXES)}")
    return f"{what} to {path}"
