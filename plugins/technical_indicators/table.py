"""Assemble the indicator table of one ticker from the pure functions in ``compute``."""
import pandas as pd

from .compute import bollinger, ema, macd, rsi, sma

DEFAULTS = {
    "sma_period": 20,
    "ema_period": 20,
    "rsi_period": 14,
    "macd_fast": 12,
    "macd_slow": 26,
    "macd_signal": 9,
    "bb_period": 20,
    "bb_std": 2,
}


def indicator_columns(settings):
    """Column names of the table, the periodic ones named after the configured periods."""
    return [
        "close",
        f"sma_{settings['sma_period']}",
        f"ema_{settings['ema_period']}",
        f"rsi_{settings['rsi_period']}",
        "macd", "macd_signal", "macd_hist",
        "bb_middle", "bb_upper", "bb_lower",
    ]


def indicator_table(daily, config=None):
    """Indicators of one ticker's daily frame, indexed like it (DatetimeIndex ``date``)."""
    settings = {**DEFAULTS, **(config or {})}
    close = daily["close"].astype("float64").sort_index()
    table = pd.DataFrame({"close": close})
    table[f"sma_{settings['sma_period']}"] = sma(close, settings["sma_period"])
    table[f"ema_{settings['ema_period']}"] = ema(close, settings["ema_period"])
    table[f"rsi_{settings['rsi_period']}"] = rsi(close, settings["rsi_period"])
    table = table.join(
        macd(close, settings["macd_fast"], settings["macd_slow"], settings["macd_signal"])
    )
    table = table.join(bollinger(close, settings["bb_period"], settings["bb_std"]))
    return table[indicator_columns(settings)]


def indicator_tables(frames, config=None):
    """``{ticker: indicator table}`` for every daily frame."""
    return {ticker: indicator_table(daily, config) for ticker, daily in frames.items()}
