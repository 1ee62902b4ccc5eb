"""Bounds on what goes into the store: no string in a history record is longer than
FIELD_LIMIT characters, so one huge error or log message can never make a write the store
rejects (MongoDB documents are at most 16 MiB) and stop all history.

A cut string keeps its head and its tail (where a traceback names the error) and says how
much was cut and where the full text is: the run's log file gets every record uncut."""
from __future__ import annotations

from typing import Any

FIELD_LIMIT = 64 * 1024       # characters of one stored string
SHRUNK_LIMIT = 2 * 1024       # after the store rejected a document all the same
HEAD_SHARE = 0.75             # of the kept characters, from the start; the rest from the end
RUN_COLLECTIONS = ("runs", "tasks", "logs")
LOG_FILE_HINT = "; full text in logs/{run_id}.log"


def cut_text(text: str, limit: int = FIELD_LIMIT, where: str = "") -> str:
    """`text` if it is at most `limit` characters; else its head and tail around a note
    "… [cut N characters<where>] …"."""
    if len(text) <= limit:
        return text
    head = int(limit * HEAD_SHARE)
    tail = limit - head
    note = f" … [cut {len(text) - limit:,} characters{where}] … "
    return text[:head] + note + text[len(text) - tail:]


def bound_value(value: Any, limit: int = FIELD_LIMIT, where: str = "") -> Any:
    """`value` with every string in it (in dicts and lists too) cut to `limit`; the same
    object when nothing needed cutting (the common case costs no copy)."""
    if isinstance(value, str):
        return cut_text(value, limit, where)
    if isinstance(value, dict):
        bounded = {key: bound_value(item, limit, where) for key, item in value.items()}
        return value if all(bounded[key] is value[key] for key in value) else bounded
    if isinstance(value, (list, tuple)):
        items = [bound_value(item, limit, where) for item in value]
        return value if all(new is old for new, old in zip(items, value)) else items
    return value


def bound_record(collection: str, doc_id: Any, fields: dict,
                 limit: int = FIELD_LIMIT) -> dict:
    """A history record's fields, bounded; for a run's records the note names its log file."""
    return bound_value(fields, limit, _where(collection, doc_id, fields))


def _where(collection: str, doc_id: Any, fields: dict) -> str:
    if collection not in RUN_COLLECTIONS:
        return ""
    run_id = fields.get("run_id") or str(doc_id).split(":", 1)[0]
    return LOG_FILE_HINT.format(run_id=run_id)


CONSOLE_LIMIT = 2_000         # characters of one error or message echoed in a terminal
CONSOLE_HINT = "; full text: `dataflow logs RUN` or the run's log file"


def console_text(text: Any) -> str:
    """An error or log message as a terminal shows it: at most CONSOLE_LIMIT characters."""
    return cut_text(str(text), CONSOLE_LIMIT, CONSOLE_HINT)
