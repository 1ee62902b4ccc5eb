"""Daily documents -> per-ticker frames, and the gap report found among the inputs."""
import pandas as pd


def frames_by_ticker(daily):
    """Split a frame of ``ohlcv_daily`` documents into ``{ticker: frame indexed by date}``."""
    if daily.empty:
        return {}
    daily = daily.assign(date=pd.to_datetime(daily["date"]))
    return {
        str(ticker): rows.drop(columns="ticker").set_index("date").sort_index()
        for ticker, rows in daily.groupby("ticker", sort=True)
    }


def find_gap_report(inputs):
    """The gap_finder report among the inputs (by id first, else by shape), or None."""
    inputs = inputs or {}
    candidates = [inputs.get("gap_finder"), *inputs.values()]
    for value in candidates:
        if isinstance(value, dict) and "total_missing" in value and "calendar_gaps" in value:
            return value
    return None


def bar_counts(frames, bars):
    """``{ticker: {"daily": rows, "weekly": bars, "monthly": bars}}``."""
    return {
        ticker: {
            "daily": int(len(frame)),
            **{frequency: int(len(by_ticker[ticker])) for frequency, by_ticker in bars.items()},
        }
        for ticker, frame in frames.items()
    }
