"""What a plugin produced (and how far a streamed one got), said in a line, and written
to a file a user can open.

`summarize` runs on the worker when a task completes (so the end of a run can say
what was produced without fetching any output). Writing an output to a file is
`output_files.export`. Neither imports pandas, so the CLI stays quick to start.
"""
from __future__ import annotations

from typing import Any

MAX_KEYS = 8              # keys of a dict named in its summary


def is_frame(value: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas (the CLI starts faster)."""
    return (type(value).__name__ == "DataFrame" and hasattr(value, "columns")
            and not hasattr(value, "npartitions"))      # a dask DataFrame is not read whole


def _is_series(value: Any) -> bool:
    return type(value).__name__ == "Series" and hasattr(value, "index")


def _frame_summary(frame: Any) -> dict:
    return {"type": "DataFrame", "rows": int(frame.shape[0]), "columns": int(frame.shape[1]),
            "column_names": [str(c) for c in frame.columns[:MAX_KEYS]]}


def summarize(value: Any) -> dict:
    """Type and size of an output: rows × columns of a DataFrame, keys of a dict, ..."""
    if is_frame(value):
        return _frame_summary(value)
    if hasattr(value, "npartitions"):      # dask: lazy, summarized without computing it
        return {"type": f"dask {type(value).__name__}", "partitions": int(value.npartitions)}
    if _is_series(value):
        return {"type": "Series", "rows": int(value.shape[0])}
    if isinstance(value, dict):
        summary: dict[str, Any] = {"type": "dict", "keys": len(value),
                                   "key_names": [str(k) for k in list(value)[:MAX_KEYS]]}
        inner = {type(v).__name__ for v in value.values()}
        if len(inner) == 1:
            summary["values"] = inner.pop()
        return summary
    if isinstance(value, (list, tuple, set)):
        return {"type": type(value).__name__, "items": len(value)}
    if value is None:
        return {"type": "None"}
    return {"type": type(value).__name__}


def describe(summary: dict | None) -> str:
    """The summary as a short phrase: "DataFrame 3,270 rows × 8 columns"."""
    if not summary:
        return ""
    kind = summary.get("type", "?")
    if "columns" in summary:
        return f"{kind} {summary['rows']:,} rows × {summary['columns']} columns"
    if "rows" in summary:
        return f"{kind} {summary['rows']:,} rows"
    if "keys" in summary:
        names = ", ".join(summary.get("key_names", []))
        more = "…" if summary["keys"] > len(summary.get("key_names", [])) else ""
        of = f" of {summary['values']}" if summary.get("values") else ""
        return f"dict of {summary['keys']} keys{of} ({names}{more})"
    if "items" in summary:
        return f"{kind} of {summary['items']:,} items"
    if "partitions" in summary:
        return f"{kind} of {summary['partitions']:,} partitions"
    return kind


def describe_writes(writes: dict | None) -> str:
    """"; wrote indicators: 12,154 documents" for what a task wrote through the db service."""
    if not writes:
        return ""
    return "; wrote " + ", ".join(f"{name}: {count:,} documents" for name, count in writes.items())


def describe_rows(progress: dict | None) -> str:
    """The rows line of a progress record or event; "" when it is not a stream's."""
    if not progress or progress.get("rows_done") is None:
        return ""
    total, chunks = progress.get("rows_total"), progress.get("chunks_total")
    text = f"rows {progress['rows_done']:,}" + (f" / {total:,}" if total else "")
    text += f" (chunk {progress.get('chunks_done', 0)}" + (f"/{chunks})" if chunks else ")")
    for key, word in (("rows_failed", " failed"), ("rows_skipped", " skipped")):
        if progress.get(key):
            text += f", {progress[key]:,}{word}"
    return text
