"""Pure-function tests (the plugins folder is on sys.path via pytest's `pythonpath`) of the
market-data plugins and dataflow.frames (no engine, no db).

Indicator values are checked against reference_indicators.py, plain-Python loops over the raw
bokeh_sampledata lists, so a pandas mistake in the plugins cannot hide in the reference.
"""
import math

import bson
import numpy as np
import pandas as pd
import pytest
from bokeh_sampledata import stocks
from reference_indicators import indicators_at

from dataflow.frames import documents_to_frame, frame_to_documents
from gap_finder.gaps import find_gaps
from ohlcv_aggregator.bars import aggregate_bars
from stock_loader.loading import load_frames
from technical_indicators.table import indicator_table

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def daily():
    """All five tickers as loaded by stock_loader."""
    return load_frames(["AAPL", "FB", "GOOG", "IBM", "MSFT"])


def test_loader_types_and_range(daily):
    assert {ticker: len(frame) for ticker, frame in daily.items()} == {
        "AAPL": 3270, "FB": 196, "GOOG": 2148, "IBM": 3270, "MSFT": 3270}
    aapl = daily["AAPL"]
    assert isinstance(aapl.index, pd.DatetimeIndex) and aapl.index.name == "date"
    assert aapl["volume"].dtype == np.int64
    assert all(aapl[name].dtype == np.float64
               for name in ["open", "high", "low", "close", "adj_close"])
    ranged = load_frames(["IBM"], "2005-03-01", "2005-03-31")["IBM"]
    assert ranged.index.min() == pd.Timestamp("2005-03-01")
    assert ranged.index.max() == pd.Timestamp("2005-03-31")
    assert len(ranged) == sum(day[:7] == "2005-03" for day in stocks.IBM["date"])
    assert load_frames(["FB"], "2001-01-01", "2001-12-31") == {}


@pytest.mark.parametrize("ticker,day", [
    ("AAPL", "2010-06-01"), ("MSFT", "2012-12-31"), ("IBM", "2005-03-15"), ("GOOG", "2013-03-01"),
])
def test_indicators_match_plain_loops(daily, ticker, day):
    table = indicator_table(daily[ticker])
    closes = [float(value) for value in getattr(stocks, ticker)["close"]]
    position = getattr(stocks, ticker)["date"].index(day)
    expected = indicators_at(closes, position)
    row = table.loc[pd.Timestamp(day)]
    assert list(table.columns) == list(expected)
    for name, value in expected.items():
        assert math.isclose(row[name], value, rel_tol=1e-9, abs_tol=1e-12), name


def test_indicator_warm_up_and_column_names(daily):
    table = indicator_table(daily["AAPL"], {"sma_period": 5, "rsi_period": 7})
    assert {"sma_5", "ema_20", "rsi_7"} <= set(table.columns)
    assert table["sma_5"].iloc[:4].isna().all() and not math.isnan(table["sma_5"].iloc[4])
    assert table["rsi_7"].iloc[:7].isna().all() and not math.isnan(table["rsi_7"].iloc[7])
    assert table["macd"].iloc[:25].isna().all() and not math.isnan(table["macd"].iloc[25])
    assert table["macd_signal"].iloc[:33].isna().all()
    assert not math.isnan(table["macd_signal"].iloc[33])


def test_weekly_bar_of_a_holiday_week(daily):
    # Week ending Friday 2010-04-02 (Good Friday, market closed): Mon 29 Mar - Thu 1 Apr.
    raw = stocks.AAPL
    rows = [i for i, day in enumerate(raw["date"]) if "2010-03-29" <= day <= "2010-04-02"]
    bars = aggregate_bars(daily["AAPL"], "weekly")
    bar = bars.loc[pd.Timestamp("2010-04-01")]
    assert len(rows) == 4 and raw["date"][rows[-1]] == "2010-04-01"
    assert bar["open"] == raw["open"][rows[0]]
    assert bar["high"] == max(raw["high"][i] for i in rows)
    assert bar["low"] == min(raw["low"][i] for i in rows)
    assert bar["close"] == raw["close"][rows[-1]]
    assert bar["volume"] == sum(raw["volume"][i] for i in rows)
    assert bar["trading_days"] == 4
    assert pd.Timestamp("2010-04-02") not in bars.index
    assert (bars.index.day_of_week <= 4).all() and bars.index.is_monotonic_increasing


def test_monthly_bar_count_and_labels(daily):
    bars = aggregate_bars(daily["AAPL"], "monthly")
    months = sorted({day[:7] for day in stocks.AAPL["date"]})
    assert len(bars) == len(months) == 157
    assert int(bars["trading_days"].sum()) == 3270
    last_days = {}
    for day in stocks.AAPL["date"]:
        last_days[day[:7]] = day
    assert [day.strftime("%Y-%m-%d") for day in bars.index] == [last_days[m] for m in months]
    assert bars.index[-1] == pd.Timestamp("2013-03-01") and bars["trading_days"].iloc[-1] == 1


def test_gap_finder_finds_deleted_days():
    days = pd.bdate_range("2021-01-04", "2021-02-26")
    days = days[(days < "2021-01-18") | (days > "2021-01-22")]  # a closed week in the calendar
    pairs = pd.DataFrame([(ticker, day) for ticker in ["AAA", "BBB"] for day in days],
                         columns=["ticker", "date"])
    deleted = pd.to_datetime(["2021-01-06", "2021-01-07", "2021-01-08", "2021-02-10"])
    pairs = pairs[~((pairs["ticker"] == "AAA") & pairs["date"].isin(deleted))]
    pairs = pairs[~((pairs["ticker"] == "BBB") & (pairs["date"] < "2021-01-06"))]
    report = find_gaps(pairs)
    aaa, bbb = report["tickers"]["AAA"], report["tickers"]["BBB"]
    assert aaa["missing_days"] == ["2021-01-06", "2021-01-07", "2021-01-08", "2021-02-10"]
    assert aaa["gaps"] == [
        {"start": "2021-01-06", "end": "2021-01-08", "length": 3},
        {"start": "2021-02-10", "end": "2021-02-10", "length": 1},
    ]
    assert aaa["rows"] == len(days) - 4 and aaa["first"] == "2021-01-04"
    assert bbb["missing_days"] == [] and bbb["first"] == "2021-01-06"
    assert report["total_missing"] == 4
    assert report["calendar_gaps"] == [
        {"from": "2021-01-15", "to": "2021-01-25", "calendar_days": 10}]
    only_bbb = find_gaps(pairs, tickers=["BBB"])
    assert list(only_bbb["tickers"]) == ["BBB"] and only_bbb["total_missing"] == 0


def test_frames_documents_are_bson_safe():
    frame = pd.DataFrame(
        {
            "volume": np.array([10, 20], dtype=np.int64),
            "close": [1.5, np.nan],
            "flag": np.array([True, False]),
            "when": [pd.Timestamp("2020-01-02"), pd.NaT],
        },
        index=pd.DatetimeIndex(["2020-01-01", "2020-01-02"], name="date"),
    )
    documents = frame_to_documents(frame, ticker="AAA", version=np.int64(3))
    for document in documents:
        bson.encode(document)
    first, second = documents
    assert type(first["volume"]) is int and type(first["flag"]) is bool
    assert first["date"] == pd.Timestamp("2020-01-01") and first["version"] == 3
    assert second["close"] is None and second["when"] is None
    round_trip = documents_to_frame(
        [bson.decode(bson.encode({"_id": i, **doc})) for i, doc in enumerate(documents)])
    assert "_id" not in round_trip.columns and round_trip.index.name == "date"
    assert list(round_trip["volume"]) == [10, 20] and pd.isna(round_trip["when"].iloc[1])
