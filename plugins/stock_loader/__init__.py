"""stock_loader: daily OHLCV of five stocks (2000-2013) from the offline bokeh sample data."""
from .loading import TICKERS, load_frames
from .storage import store_frames

PLUGIN_NAME = "stock_loader"
HOOKS = ["fetch_data"]
PIPELINES = ["default", "historical"]
TAGS = ["fetcher"]
VERSION = "1.0.0"
FAIL_HARD = True

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "tickers": {
            "type": "array",
            "items": {"type": "string", "enum": TICKERS},
            "uniqueItems": True,
            "default": list(TICKERS),
            "description": "Tickers to load.",
        },
        "start": {
            "type": ["string", "null"],
            "format": "date",
            "default": None,
            "description": "First day to load (ISO date, inclusive); null = from the start.",
        },
        "end": {
            "type": ["string", "null"],
            "format": "date",
            "default": None,
            "description": "Last day to load (ISO date, inclusive); null = to the end.",
        },
    },
    "additionalProperties": False,
}


def run(context, config):
    """Load the configured tickers and store them in ``ohlcv_daily``."""
    log = context["services"]["log"]
    tickers = config.get("tickers") or list(TICKERS)
    start, end = config.get("start"), config.get("end")
    frames = load_frames(tickers, start, end)
    for ticker in sorted(set(tickers) - set(frames)):
        log.warning("no rows in range", ticker=ticker, start=start, end=end)
    written = store_frames(context["services"]["db"], frames, start, end)
    log.info("stored daily bars", collection="ohlcv_daily", documents=sum(written.values()))
    return frames
