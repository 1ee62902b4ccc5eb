"""gap_finder: report the trading days each ticker lacks in ``ohlcv_daily``."""
import datetime

from dataflow.frames import documents_to_frame, replace_documents

from .gaps import find_gaps

PLUGIN_NAME = "gap_finder"
HOOKS = ["repair_missing"]
PIPELINES = ["repair"]
TAGS = ["repair"]
VERSION = "1.0.0"

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "tickers": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "default": None,
            "description": "Tickers to report on; null = every ticker in the store.",
        },
        "max_gap_days": {
            "type": "integer",
            "minimum": 1,
            "default": 4,
            "description": "Flag calendar gaps longer than this many days between trading days.",
        },
    },
    "additionalProperties": False,
}


def read_daily_dates(db):
    """Every (ticker, date) pair of ``ohlcv_daily`` as a frame."""
    cursor = db["ohlcv_daily"].find({}, {"_id": 0, "ticker": 1, "date": 1})
    return documents_to_frame(cursor, index=None)


def run(context, config):
    """Build the gap report and store it in ``repair_reports``."""
    log = context["services"]["log"]
    db = context["services"]["db"]
    report = find_gaps(read_daily_dates(db), config.get("max_gap_days", 4), config.get("tickers"))
    log.info("gap report", total_missing=report["total_missing"],
             calendar_gaps=len(report["calendar_gaps"]))
    document = {
        "run_id": context["run_id"],
        "created_at": datetime.datetime.now(datetime.timezone.utc),
        **report,
    }
    replace_documents(db["repair_reports"], {"run_id": context["run_id"]}, [document])
    return report
