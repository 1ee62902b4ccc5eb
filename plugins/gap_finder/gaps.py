"""Find missing trading days per ticker against the union calendar (pure functions).

The store has no exchange calendar, so the calendar is the union of every ticker's dates:
a day on which any ticker traded is a trading day.
"""
import numpy as np
import pandas as pd


def iso_day(timestamp):
    """A Timestamp as an ISO date string (YYYY-MM-DD)."""
    return timestamp.strftime("%Y-%m-%d")


def trading_calendar(pairs):
    """Sorted unique trading days of a ``ticker``/``date`` frame."""
    return pd.DatetimeIndex(pd.to_datetime(pairs["date"])).normalize().unique().sort_values()


def missing_runs(calendar, missing):
    """Runs of consecutive calendar days in ``missing``: ``{"start", "end", "length"}``."""
    positions = np.sort(calendar.get_indexer(missing))
    if not len(positions):
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    return [
        {"start": iso_day(calendar[run[0]]), "end": iso_day(calendar[run[-1]]), "length": len(run)}
        for run in np.split(positions, breaks)
    ]


def ticker_report(calendar, dates):
    """Rows, span and the calendar days a ticker lacks between its first and last date."""
    dates = pd.DatetimeIndex(dates).normalize().unique().sort_values()
    span = calendar[(calendar >= dates[0]) & (calendar <= dates[-1])]
    missing = span.difference(dates)
    return {
        "rows": int(len(dates)),
        "first": iso_day(dates[0]),
        "last": iso_day(dates[-1]),
        "missing_days": [iso_day(day) for day in missing],
        "gaps": missing_runs(calendar, missing),
    }


def calendar_gaps(calendar, max_gap_days):
    """Consecutive trading days more than ``max_gap_days`` calendar days apart."""
    if len(calendar) < 2:
        return []
    lengths = (calendar[1:] - calendar[:-1]).days
    return [
        {"from": iso_day(calendar[i]), "to": iso_day(calendar[i + 1]),
         "calendar_days": int(lengths[i])}
        for i in np.flatnonzero(lengths > max_gap_days)
    ]


def find_gaps(pairs, max_gap_days=4, tickers=None):
    """Gap report of a frame with ``ticker`` and ``date`` columns (one row per daily bar).

    Returns ``{"tickers": {ticker: report}, "calendar_gaps": [...], "total_missing": int}``;
    ``tickers`` limits the per-ticker reports, the calendar always uses every ticker.
    """
    if pairs.empty:
        return {"tickers": {}, "calendar_gaps": [], "total_missing": 0}
    calendar = trading_calendar(pairs)
    dates = pd.to_datetime(pairs["date"])
    wanted = sorted(set(pairs["ticker"]) if tickers is None else set(tickers) & set(pairs["ticker"]))
    reports = {
        ticker: ticker_report(calendar, dates[pairs["ticker"] == ticker]) for ticker in wanted
    }
    return {
        "tickers": reports,
        "calendar_gaps": calendar_gaps(calendar, max_gap_days),
        "total_missing": sum(len(report["missing_days"]) for report in reports.values()),
    }
