"""Daily OHLCV -> weekly / monthly bars (pure functions, shared with bar_rebuilder)."""
import pandas as pd

# Period aliases: weeks end on Friday, months are calendar months.
PERIODS = {"weekly": "W-FRI", "monthly": "M"}
FREQUENCIES = list(PERIODS)


def aggregate_bars(daily, frequency):
    """Bars of one ticker's daily frame at ``frequency`` ("weekly" or "monthly").

    open = first, high = max, low = min, close = last, volume = sum, ``trading_days`` = rows;
    ``adj_close`` (if present) = last.  Each bar is labelled with the last trading day it
    actually holds (not the calendar period end), so a week whose Friday is a holiday is
    dated Thursday.  Periods without rows produce no bar.
    """
    columns = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    if "adj_close" in daily.columns:
        columns["adj_close"] = "last"
    if daily.empty:
        return pd.DataFrame(
            columns=[*columns, "trading_days"], index=pd.DatetimeIndex([], name="date")
        )
    daily = daily.sort_index()
    period = daily.index.to_period(PERIODS[frequency])
    grouped = daily.groupby(period)
    bars = grouped.agg(columns)
    bars["trading_days"] = grouped.size().astype("int64")
    bars.index = pd.DatetimeIndex(
        daily.index.to_series().groupby(period).max().to_numpy(), name="date"
    )
    return bars[bars["trading_days"] > 0]


def build_bars(frames, frequencies=FREQUENCIES):
    """``{frequency: {ticker: bars}}`` for every ticker frame and requested frequency."""
    return {
        frequency: {ticker: aggregate_bars(daily, frequency) for ticker, daily in frames.items()}
        for frequency in frequencies
    }


def period_span(daily, frequency):
    """Query bounds covering every period ``daily`` touches, whole periods at both ends."""
    periods = daily.index.to_period(PERIODS[frequency])
    return {
        "$gte": periods.min().start_time.to_pydatetime(),
        "$lt": (periods.max() + 1).start_time.to_pydatetime(),
    }
