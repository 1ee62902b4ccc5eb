"""The indicators computed independently, with plain Python loops over lists of floats: what
the tests hold the pandas code of the `technical_indicators` plugin to (a mistake there
cannot hide in here). Each series has None where its window is not full yet."""
from __future__ import annotations

import math


def sma(values, period):
    """Simple moving average of the last `period` values."""
    return [None if t < period - 1 else sum(values[t - period + 1:t + 1]) / period
            for t in range(len(values))]


def ema(values, period, alpha=None):
    """Exponential smoothing (alpha 2/(period+1) unless given), seeded with the simple average
    of the first `period` values; `values` may start with None (a series still warming up)."""
    alpha = 2 / (period + 1) if alpha is None else alpha
    result = [None] * len(values)
    first = next((i for i, value in enumerate(values) if value is not None), None)
    if first is None or len(values) - first < period:
        return result
    seed = first + period - 1
    average = sum(values[first:seed + 1]) / period
    result[seed] = average
    for t in range(seed + 1, len(values)):
        average = alpha * values[t] + (1 - alpha) * average
        result[t] = average
    return result


def rsi(closes, period=14):
    """Wilder's RSI: averages of gains and losses (simple for the first `period` changes,
    then smoothed with alpha 1/period)."""
    changes = [None] + [closes[t] - closes[t - 1] for t in range(1, len(closes))]
    gains = [None] + [max(change, 0.0) for change in changes[1:]]
    losses = [None] + [max(-change, 0.0) for change in changes[1:]]
    result = []
    for gain, loss in zip(ema(gains, period, 1 / period), ema(losses, period, 1 / period)):
        if loss is None:
            result.append(None)
        else:
            result.append(100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss))
    return result


def macd(closes, fast=12, slow=26, signal=9):
    """(MACD line, signal line, histogram): EMA(fast) - EMA(slow), its EMA(signal), their gap."""
    line = [None if f is None or s is None else f - s
            for f, s in zip(ema(closes, fast), ema(closes, slow))]
    smoothed = ema(line, signal)
    histogram = [None if m is None or s is None else m - s for m, s in zip(line, smoothed)]
    return line, smoothed, histogram


def bollinger(closes, period=20, width=2.0):
    """(middle, upper, lower): the SMA ± `width` population standard deviations."""
    middle, upper, lower = sma(closes, period), [], []
    for t, mean in enumerate(middle):
        if mean is None:
            upper.append(None)
            lower.append(None)
            continue
        deviation = math.sqrt(sum((v - mean) ** 2 for v in closes[t - period + 1:t + 1]) / period)
        upper.append(mean + width * deviation)
        lower.append(mean - width * deviation)
    return middle, upper, lower


def indicators_at(closes, t):
    """Every default indicator at position `t`, keyed (and ordered) like the plugin's table."""
    line, signal, histogram = macd(closes)
    middle, upper, lower = bollinger(closes)
    return {"close": closes[t], "sma_20": sma(closes, 20)[t], "ema_20": ema(closes, 20)[t],
            "rsi_14": rsi(closes, 14)[t], "macd": line[t], "macd_signal": signal[t],
            "macd_hist": histogram[t], "bb_middle": middle[t], "bb_upper": upper[t],
            "bb_lower": lower[t]}
