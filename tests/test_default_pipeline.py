"""The shipped market-data pipelines end to end through the CLI, on a copy of the repo's
plugins and config/pipelines.yaml: stored indicators and weekly bars equal values computed
here, independently, with plain Python (reference_indicators.py) from
`bokeh_sampledata.stocks`; `repair` finds days removed from the store and rebuilds the bars;
`historical` reloads the full history."""
from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta

import pymongo
import pytest
from bokeh_sampledata import stocks
from conftest import REPO, ProjectFactory, run_cli, store_variables
from reference_indicators import indicators_at

TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
REMOVED = [datetime(2012, 12, 26), datetime(2012, 12, 27)]     # MSFT days the repair must find


def expected_indicators(ticker, day):
    raw = getattr(stocks, ticker)
    return indicators_at([float(value) for value in raw["close"]], raw["date"].index(day))


def friday_of(day: str) -> date:
    """The Friday ending the Saturday-to-Friday week that holds `day`."""
    d = date.fromisoformat(day)
    return d + timedelta(days=(4 - d.weekday()) % 7)


def expected_week(ticker, friday, skip=()):
    raw = getattr(stocks, ticker)
    rows = [i for i, day in enumerate(raw["date"])
            if friday_of(day) == friday and day not in skip]
    return {"date": datetime.fromisoformat(raw["date"][rows[-1]]),
            "open": raw["open"][rows[0]], "close": raw["close"][rows[-1]],
            "high": max(raw["high"][i] for i in rows), "low": min(raw["low"][i] for i in rows),
            "volume": sum(raw["volume"][i] for i in rows), "trading_days": len(rows)}


@pytest.fixture(scope="module")
def default_run(mongo_uri, tmp_path_factory):
    """The default pipeline run once through `dataflow run default`."""
    pipelines = (REPO / "config" / "pipelines.yaml").read_text()
    project = ProjectFactory(tmp_path_factory.mktemp("default") / "project")(
        pipelines, copy_default_plugins=True)
    env = store_variables(mongo_uri)
    result = run_cli("run", "default", project=project, env=env)
    client = pymongo.MongoClient(mongo_uri)
    yield {"project": project, "env": env, "result": result,
           "data": client[env["DATAFLOW_MONGO_DB"] + "_data"]}
    client.close()


def test_default_pipeline_completes(default_run):
    result = default_run["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "of default: completed" in result.stdout
    for hook, plugin in (("fetch_data", "stock_loader"), ("aggregate", "ohlcv_aggregator"),
                         ("calculate_indicators", "technical_indicators")):
        assert any(line.split()[:3] == [hook, plugin, "completed"]
                   for line in result.stdout.splitlines()), result.stdout
    assert default_run["data"]["ohlcv_daily"].count_documents({}) == 12154
    validate = run_cli("validate", project=default_run["project"], env=default_run["env"])
    assert validate.returncode == 0, validate.stdout


@pytest.mark.parametrize("ticker,day", [("AAPL", "2010-06-01"), ("MSFT", "2012-12-31"),
                                        ("IBM", "2005-03-15"), ("GOOG", "2013-03-01"),
                                        ("FB", "2013-02-01")])
def test_stored_indicators_equal_independent_values(default_run, ticker, day):
    stored = default_run["data"]["indicators"].find_one(
        {"ticker": ticker, "date": datetime.fromisoformat(day)}, {"_id": 0})
    assert stored is not None, f"no indicators for {ticker} {day}"
    for name, value in expected_indicators(ticker, day).items():
        assert math.isclose(stored[name], value, rel_tol=1e-9, abs_tol=1e-9), (name, stored)


def test_indicators_cover_every_day_with_warm_up_gaps(default_run):
    indicators = default_run["data"]["indicators"]
    for ticker in TICKERS:
        assert indicators.count_documents({"ticker": ticker}) == len(getattr(stocks, ticker)["date"])
    first = indicators.find_one({"ticker": "AAPL", "date": datetime(2000, 3, 1)})
    assert first["close"] == stocks.AAPL["close"][0]
    assert first["sma_20"] is None and first["rsi_14"] is None and first["macd"] is None


@pytest.mark.parametrize("ticker,friday", [("AAPL", date(2010, 6, 4)),      # Memorial Day week
                                           ("MSFT", date(2008, 11, 28)),    # Thanksgiving week
                                           ("IBM", date(2005, 3, 18))])
def test_weekly_bars_equal_independent_values(default_run, ticker, friday):
    expected = expected_week(ticker, friday)
    stored = default_run["data"]["ohlcv_weekly"].find_one(
        {"ticker": ticker, "date": expected["date"]}, {"_id": 0})
    assert stored is not None, f"no weekly bar for {ticker} on {expected['date']}"
    assert {key: stored[key] for key in expected} == expected
    weeks = {friday_of(day) for day in getattr(stocks, ticker)["date"]}
    assert default_run["data"]["ohlcv_weekly"].count_documents({"ticker": ticker}) == len(weeks)


def test_repair_then_historical_pipelines(default_run):
    data, project, env = default_run["data"], default_run["project"], default_run["env"]
    removed = data["ohlcv_daily"].delete_many({"ticker": "MSFT", "date": {"$in": REMOVED}})
    assert removed.deleted_count == 2
    repair = run_cli("run", "repair", "--json", project=project, env=env)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert json.loads(repair.stdout)["status"] == "completed"
    report = data["repair_reports"].find_one({"run_id": json.loads(repair.stdout)["run_id"]})
    assert report["tickers"]["MSFT"]["missing_days"] == ["2012-12-26", "2012-12-27"]
    assert report["total_missing"] == 2 and report["tickers"]["AAPL"]["missing_days"] == []
    rebuilt = data["ohlcv_weekly"].find_one({"ticker": "MSFT", "date": datetime(2012, 12, 28)})
    expected = expected_week("MSFT", date(2012, 12, 28), skip=("2012-12-26", "2012-12-27"))
    assert rebuilt["trading_days"] == expected["trading_days"] == 2
    assert rebuilt["volume"] == expected["volume"]
    historical = run_cli("run", "historical", project=project, env=env)
    assert historical.returncode == 0, historical.stdout + historical.stderr
    assert "of historical: completed" in historical.stdout
    assert data["ohlcv_daily"].count_documents({"ticker": "MSFT", "date": {"$in": REMOVED}}) == 2
    assert data["ohlcv_daily"].count_documents({}) == 12154
