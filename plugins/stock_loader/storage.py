"""Write daily frames to ``ohlcv_daily``: one document per ticker and date."""
from dataflow.frames import frame_to_documents, replace_documents

from .loading import parse_day

COLLECTION = "ohlcv_daily"


def range_filter(ticker, start=None, end=None):
    """The query matching ``ticker``'s documents in the requested (inclusive) date range."""
    query = {"ticker": ticker}
    bounds = {}
    if start is not None:
        bounds["$gte"] = parse_day(start).to_pydatetime()
    if end is not None:
        bounds["$lte"] = parse_day(end).to_pydatetime()
    if bounds:
        query["date"] = bounds
    return query


def store_frames(db, frames, start=None, end=None):
    """Replace each ticker's documents in the range with ``frames``; return docs written."""
    collection = db[COLLECTION]
    written = {}
    for ticker, frame in frames.items():
        documents = frame_to_documents(frame, ticker=ticker)
        written[ticker] = replace_documents(collection, range_filter(ticker, start, end), documents)
    return written
