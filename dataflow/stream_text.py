"""A streamed task's progress said in a line: "rows 1,200,000 / 5,000,000 (chunk 3/10)"."""
from __future__ import annotations


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
