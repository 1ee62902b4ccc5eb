"""Technical indicators on a pandas Series of closing prices (pure, textbook definitions).

Every function returns Series aligned with ``close``; values are NaN until enough
observations exist.  Leading NaNs in the input (e.g. a MACD line before it is defined) are
skipped: the seed is taken from the first ``period`` valid values.
"""
import numpy as np
import pandas as pd


def sma(close, period):
    """Simple moving average: the mean of the last ``period`` values."""
    return close.rolling(period, min_periods=period).mean()


def seeded_ema(values, period, alpha):
    """Exponential smoothing seeded with the simple mean of the first ``period`` valid values.

    ``s[seed] = mean(x[first valid .. first valid + period - 1])`` and afterwards
    ``s[t] = alpha * x[t] + (1 - alpha) * s[t-1]``; NaN before the seed.
    """
    values = values.astype("float64")
    valid_positions = np.flatnonzero(values.notna().to_numpy())
    result = pd.Series(np.nan, index=values.index, dtype="float64")
    if len(valid_positions) < period:
        return result
    first = valid_positions[0]
    seed_position = first + period - 1
    tail = values.iloc[seed_position:].copy()
    tail.iloc[0] = values.iloc[first:seed_position + 1].mean()
    result.iloc[seed_position:] = tail.ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return result


def ema(close, period):
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the first
    ``period`` values: ``ema[t] = alpha * close[t] + (1 - alpha) * ema[t-1]``.
    """
    return seeded_ema(close, period, 2.0 / (period + 1))


def rsi(close, period):
    """Relative Strength Index with Wilder smoothing.

    Changes ``d[t] = close[t] - close[t-1]``; gain = max(d, 0), loss = max(-d, 0).  The first
    average gain / loss is the simple mean of the first ``period`` changes, then
    ``avg[t] = (avg[t-1] * (period - 1) + x[t]) / period`` (alpha = 1 / period).
    RSI = 100 - 100 / (1 + avg_gain / avg_loss), and 100 when the average loss is 0.
    """
    change = close.astype("float64").diff()
    average_gain = seeded_ema(change.clip(lower=0), period, 1.0 / period)
    average_loss = seeded_ema((-change).clip(lower=0), period, 1.0 / period)
    strength = average_gain / average_loss
    values = 100.0 - 100.0 / (1.0 + strength)
    return values.mask(average_loss.eq(0), 100.0)


def macd(close, fast=12, slow=26, signal=9):
    """MACD line = EMA(fast) - EMA(slow); signal = EMA(signal) of the MACD line, seeded with
    the SMA of its first ``signal`` valid values; histogram = MACD - signal.

    Returns the DataFrame ``macd``, ``macd_signal``, ``macd_hist``.
    """
    line = ema(close, fast) - ema(close, slow)
    signal_line = ema(line, signal)
    return pd.DataFrame(
        {"macd": line, "macd_signal": signal_line, "macd_hist": line - signal_line}
    )


def bollinger(close, period=20, width=2.0):
    """Bollinger Bands: middle = SMA(period); upper / lower = middle +/- width * the population
    standard deviation (ddof=0) of the same ``period`` values.

    Returns the DataFrame ``bb_middle``, ``bb_upper``, ``bb_lower``.
    """
    middle = sma(close, period)
    spread = width * close.rolling(period, min_periods=period).std(ddof=0)
    return pd.DataFrame(
        {"bb_middle": middle, "bb_upper": middle + spread, "bb_lower": middle - spread}
    )
