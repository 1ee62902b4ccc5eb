"""bar_rebuilder: rebuild weekly and monthly bars from the whole ``ohlcv_daily`` store."""
from dataflow.frames import documents_to_frame
from ohlcv_aggregator.bars import FREQUENCIES, build_bars
from ohlcv_aggregator.storage import store_bars

from .rebuild import bar_counts, find_gap_report, frames_by_ticker

PLUGIN_NAME = "bar_rebuilder"
HOOKS = ["reaggregate"]
PIPELINES = ["repair"]
TAGS = ["repair", "aggregator"]
VERSION = "1.0.0"

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "tickers": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "default": None,
            "description": "Tickers to rebuild; null = every ticker in the store.",
        },
        "frequencies": {
            "type": "array",
            "items": {"type": "string", "enum": FREQUENCIES},
            "uniqueItems": True,
            "default": list(FREQUENCIES),
            "description": "Bar sizes to rebuild.",
        },
    },
    "additionalProperties": False,
}


def read_daily(db, tickers=None):
    """The stored daily bars (of ``tickers`` if given) as ``{ticker: frame}``."""
    query = {} if tickers is None else {"ticker": {"$in": list(tickers)}}
    cursor = db["ohlcv_daily"].find(query, {"_id": 0})
    return frames_by_ticker(documents_to_frame(cursor, index=None))


def run(context, config):
    """Rebuild and rewrite every ticker's bars; return bar counts (and the gaps found)."""
    log = context["services"]["log"]
    db = context["services"]["db"]
    frames = read_daily(db, config.get("tickers"))
    bars = build_bars(frames, config.get("frequencies") or list(FREQUENCIES))
    for frequency, bars_by_ticker in bars.items():
        written = store_bars(db, frequency, bars_by_ticker)
        log.info("rebuilt bars", frequency=frequency, documents=written)
    report = find_gap_report(context["inputs"])
    return {
        "tickers": bar_counts(frames, bars),
        "total_missing": None if report is None else report["total_missing"],
    }
