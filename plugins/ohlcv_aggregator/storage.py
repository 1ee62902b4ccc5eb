"""Write bars to ``ohlcv_weekly`` / ``ohlcv_monthly``: one document per ticker and bar."""
from dataflow.frames import frame_to_documents, replace_documents

from .bars import period_span

COLLECTIONS = {"weekly": "ohlcv_weekly", "monthly": "ohlcv_monthly"}


def store_bars(db, frequency, bars_by_ticker, daily_frames=None):
    """Replace each ticker's bars of ``frequency``; return the documents written.

    With ``daily_frames`` only the periods those daily rows touch are replaced (a partial
    reload leaves older bars alone); without it all of the ticker's bars are replaced.
    """
    collection = db[COLLECTIONS[frequency]]
    written = 0
    for ticker, bars in bars_by_ticker.items():
        query = {"ticker": ticker}
        if daily_frames is not None and not daily_frames[ticker].empty:
            query["date"] = period_span(daily_frames[ticker], frequency)
        written += replace_documents(collection, query, frame_to_documents(bars, ticker=ticker))
    return written
