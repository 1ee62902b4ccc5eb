"""technical_indicators: SMA, EMA, RSI, MACD and Bollinger Bands on daily closes."""
from .inputs import daily_frames_from_inputs
from .storage import store_tables
from .table import DEFAULTS, indicator_tables

PLUGIN_NAME = "technical_indicators"
HOOKS = ["calculate_indicators"]
PIPELINES = ["default"]
TAGS = ["indicators"]
VERSION = "1.0.0"

DESCRIPTIONS = {
    "sma_period": "Simple moving average window (days).",
    "ema_period": "Exponential moving average period (days).",
    "rsi_period": "RSI period, Wilder smoothing (days).",
    "macd_fast": "MACD fast EMA period.",
    "macd_slow": "MACD slow EMA period.",
    "macd_signal": "MACD signal-line EMA period.",
    "bb_period": "Bollinger Bands window (days).",
}

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        **{
            name: {"type": "integer", "minimum": 1, "default": DEFAULTS[name],
                   "description": description}
            for name, description in DESCRIPTIONS.items()
        },
        "bb_std": {
            "type": "number", "exclusiveMinimum": 0, "default": DEFAULTS["bb_std"],
            "description": "Bollinger Bands width in population standard deviations.",
        },
    },
    "additionalProperties": False,
}

# {ticker: table}: checked after run() (the periodic columns are named after the config)
OUTPUT_SCHEMA = {"columns": {name: "float64" for name in (
    "close", "macd", "macd_signal", "macd_hist", "bb_middle", "bb_upper", "bb_lower")}}


def run(context, config):
    """Compute indicators for every daily series found in the inputs and store them."""
    log = context["services"]["log"]
    frames = daily_frames_from_inputs(context["inputs"])
    if not frames:
        log.warning("no daily OHLCV input found", inputs=sorted(context["inputs"] or {}))
    tables = indicator_tables(frames, config)
    written = store_tables(context["services"]["db"], tables)
    log.info("stored indicators", collection="indicators", documents=written)
    return tables
