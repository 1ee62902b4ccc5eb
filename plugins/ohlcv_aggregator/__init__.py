"""ohlcv_aggregator: weekly (W-FRI) and monthly bars from the daily OHLCV of the fetch hook."""
from .bars import FREQUENCIES, build_bars
from .inputs import daily_frames_from_inputs
from .storage import store_bars

PLUGIN_NAME = "ohlcv_aggregator"
HOOKS = ["aggregate"]
PIPELINES = ["default"]
TAGS = ["aggregator"]
VERSION = "1.0.0"

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "frequencies": {
            "type": "array",
            "items": {"type": "string", "enum": FREQUENCIES},
            "uniqueItems": True,
            "default": list(FREQUENCIES),
            "description": "Bar sizes to build: weeks ending Friday, calendar months.",
        },
    },
    "additionalProperties": False,
}


def run(context, config):
    """Build bars for every daily input; return them with the daily frames passed through."""
    log = context["services"]["log"]
    daily = daily_frames_from_inputs(context["inputs"])
    if not daily:
        log.warning("no daily OHLCV input found", inputs=sorted(context["inputs"] or {}))
    frequencies = config.get("frequencies") or list(FREQUENCIES)
    bars = build_bars(daily, frequencies)
    for frequency, bars_by_ticker in bars.items():
        written = store_bars(context["services"]["db"], frequency, bars_by_ticker, daily)
        log.info("stored bars", frequency=frequency, documents=written)
    return {"daily": daily, **{frequency: bars.get(frequency, {}) for frequency in FREQUENCIES}}
