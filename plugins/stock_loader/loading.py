"""Turn the offline ``bokeh_sampledata.stocks`` lists into typed daily OHLCV frames."""
import pandas as pd
from bokeh_sampledata import stocks

TICKERS = ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]
COLUMNS = ["open", "high", "low", "close", "adj_close", "volume"]


def parse_day(value):
    """An ISO date string (or None) as a midnight Timestamp (or None)."""
    return None if value is None else pd.Timestamp(value).normalize()


def load_ticker_frame(ticker, start=None, end=None):
    """Daily OHLCV of one ticker between ``start`` and ``end`` (inclusive, ISO strings or None).

    Index: a DatetimeIndex named ``date``; prices float64, ``volume`` int64.
    """
    raw = getattr(stocks, ticker)
    frame = pd.DataFrame({name: raw[name] for name in COLUMNS})
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["date"]), name="date")
    frame = frame.astype({**{name: "float64" for name in PRICE_COLUMNS}, "volume": "int64"})
    first, last = parse_day(start), parse_day(end)
    if first is not None:
        frame = frame[frame.index >= first]
    if last is not None:
        frame = frame[frame.index <= last]
    return frame


def load_frames(tickers, start=None, end=None):
    """``{ticker: frame}`` for the requested tickers, leaving out those with no rows in range."""
    first, last = parse_day(start), parse_day(end)
    if first is not None and last is not None and first > last:
        raise ValueError(f"start {start} is after end {end}")
    frames = {ticker: load_ticker_frame(ticker, start, end) for ticker in tickers}
    return {ticker: frame for ticker, frame in frames.items() if not frame.empty}
