"""Global settings from config/system.yaml: frozen, validated, every default here once."""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dataflow.config.schema_check import document_problems
from dataflow.config.yaml_file import YamlDocument, read_yaml

SYSTEM_FILE = "config/system.yaml"
PRIORITIES = ["low", "normal", "high", "critical"]

RETRY_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "max_retries": {"type": "integer", "minimum": 0},
    "delay": {"type": "number", "minimum": 0},
    "backoff": {"type": "number", "minimum": 1},
    "max_delay": {"type": "number", "minimum": 0},
    "jitter": {"type": "number", "minimum": 0, "maximum": 1},
    "retry_on": {"type": ["array", "null"], "items": {"type": "string"}},
    "worker_death_retries": {"type": "integer", "minimum": 0},
}}

LOG_LEVEL_NAMES = ["DEBUG", "INFO", "WARNING", "ERROR", "FATAL"]
_TEXT = {"type": ["string", "null"]}
_FLAG = {"type": "boolean"}
# The shape of `alerts:`; the values' meaning (and the checks a schema cannot make, such as
# "an http(s) URL") is dataflow.alerts.settings'. Secrets take any value here, so that a
# schema problem never quotes one; the alerts package refuses a bad one without quoting it.
ALERTS_SCHEMA = {"type": ["object", "null"], "additionalProperties": False, "properties": {
    "slack": {"type": ["object", "null"], "additionalProperties": False, "properties": {
        "webhook_url": {},
        "alert_on_levels": {"type": "array", "items": {"enum": LOG_LEVEL_NAMES}},
    }},
    "email": {"type": ["object", "null"], "additionalProperties": False, "properties": {
        "smtp_host": _TEXT, "smtp_port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "username": _TEXT, "password": {}, "from": _TEXT,
        "to": {"type": "array", "items": {"type": "string"}},
        "starttls": _FLAG, "on_failure": _FLAG, "on_success": _FLAG,
    }},
    "collapse_window": {"type": "number", "minimum": 0},
    "timeout": {"type": "number", "exclusiveMinimum": 0},
    "max_retries": {"type": "integer", "minimum": 0},
    "retry_backoff": {"type": "number", "minimum": 0},
    "queue_size": {"type": "integer", "minimum": 1},
}}

# `retention:` (system.yaml, and per pipeline in pipelines.yaml); 0 or null: keep forever.
# Applied by dataflow.store.retention after every run and by `dataflow prune`.
RETENTION_DEFAULTS = {"keep_checkpoints_runs": 20, "history_days": 90, "log_days": 30,
                      "every_minutes": 10}
_KEEP = {"type": ["integer", "null"], "minimum": 0}
_DAYS = {"type": ["number", "null"], "minimum": 0}
RETENTION_SCHEMA = {"type": ["object", "null"], "additionalProperties": False, "properties": {
    "keep_checkpoints_runs": _KEEP, "history_days": _DAYS, "log_days": _DAYS,
    "automatic": _FLAG,         # false: only `dataflow prune` applies it
    "every_minutes": _DAYS,     # automatic passes at most this often per pipeline (0: always)
}}

SYSTEM_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "store": {"type": "object", "additionalProperties": False, "properties": {
            "uri": {"type": ["string", "null"]},
            "database": {"type": "string", "minLength": 1},
        }},
        "cluster": {"type": "object", "additionalProperties": False, "properties": {
            "address": {"type": ["string", "null"], "pattern": "^(tcp|tls|inproc)://"},
            "cpu_target": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "n_workers": {"type": ["integer", "null"], "minimum": 1},
            "max_workers": {"type": ["integer", "null"], "minimum": 1},
            "dashboard_address": {"type": ["string", "null"]},
            "cancel_grace_seconds": {"type": "number", "minimum": 0},
            "memory_limit": {"type": ["string", "integer", "null"],
                             "pattern": "^[0-9.]+ *([kKmMgGtT]i?[bB]|[bB])?$"},
        }},
        "plugins": {"type": "object", "additionalProperties": False, "properties": {
            "paths": {"type": "array", "items": {"type": "string"}},
            "entry_points": {"type": "boolean"},
        }},
        "slack": {"type": "object", "additionalProperties": False, "properties": {
            "webhook_url": {"type": ["string", "null"]},
            "alert_on_levels": {"type": "array", "items": {"enum": ["ERROR", "FATAL"]}},
        }},                      # the older place of alerts.slack (read when that is absent)
        "alerts": ALERTS_SCHEMA,
        "ui": {"type": "object", "additionalProperties": False, "properties": {
            "host": {"type": "string"},
            "port": {"type": "integer", "minimum": 0, "maximum": 65535},
            "token": {"type": ["string", "null"]},
        }},
        "logging": {"type": "object", "additionalProperties": False, "properties": {
            "level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR", "FATAL"]},
            "directory": {"type": "string"},
        }},
        "retry": RETRY_SCHEMA,
        "checkpoints": {"enum": ["auto", "files", "gridfs", "off"]},
        "retention": RETENTION_SCHEMA,
        # command plugins' global env (dataflow.plugins.command_plugin): NAME → value
        "env": {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"type": ["string", "number", "boolean"]}},
    },
}


class AlertSections(Mapping):
    """system.yaml's alert sections as written: `alerts:` and the older `slack:`, ready for
    `dataflow.alerts.AlertSettings.from_mapping`. Not a dict, so `asdict(settings)` keeps
    it whole, and its repr (what JSON, logs and the API show) hides every secret."""

    SECRET_KEYS = ("webhook_url", "password")

    def __init__(self, data: Mapping | None = None):
        self._data = dict(data or {})

    def __getitem__(self, key: str):
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(_masked(self._data))

    __str__ = __repr__


def _masked(value):
    if isinstance(value, Mapping):
        return {key: ("***" if key in AlertSections.SECRET_KEYS and item else _masked(item))
                for key, item in value.items()}
    return value


@dataclass(frozen=True)
class ClusterSettings:
    address: str | None = None          # an existing scheduler, e.g. tcp://10.0.0.5:8786
    cpu_target: float = 0.8             # whole-machine CPU share dataflow aims for
    n_workers: int | None = None        # worker processes; default: one per core (≥ 2)
    max_workers: int | None = None      # adaptive ceiling; default: n_workers
    dashboard_address: str | None = "127.0.0.1:0"
    cancel_grace_seconds: float = 5.0   # cooperative cancel, then a hard stop
    memory_limit: str | int | None = None   # per local worker, e.g. "400MB"; None: Dask's share


@dataclass(frozen=True)
class Settings:
    """Everything from system.yaml, with environment overrides applied."""

    store_uri: str | None = None        # None: the embedded server under .dataflow/
    store_database: str = "dataflow"
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    plugin_paths: tuple[str, ...] = ("plugins",)
    entry_points: bool = True
    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_levels: tuple[str, ...] = ("ERROR", "FATAL")
    ui_host: str = "127.0.0.1"
    ui_port: int = 5006
    ui_token: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_directory: str = "logs"           # per-run log files, relative to the project
    retry: dict = field(default_factory=dict)    # central retry policy (see retry.py)
    checkpoints: str = "auto"             # auto: files for a local store, GridFS otherwise
    retention: dict = field(default_factory=dict)  # `retention:` as written (RETENTION_DEFAULTS)
    # `alerts:` (and the older `slack:`) as written; dataflow.alerts reads them
    alerts: AlertSections = field(default_factory=AlertSections, repr=False, compare=False)


def _from_data(data: dict) -> Settings:
    store, cluster = data.get("store") or {}, data.get("cluster") or {}
    plugins, slack = data.get("plugins") or {}, data.get("slack") or {}
    ui, logging_ = data.get("ui") or {}, data.get("logging") or {}
    return Settings(
        store_uri=os.environ.get("DATAFLOW_MONGO_URI") or store.get("uri"),
        store_database=os.environ.get("DATAFLOW_MONGO_DB") or store.get("database", "dataflow"),
        cluster=ClusterSettings(**{k: v for k, v in cluster.items()}),
        plugin_paths=tuple(plugins.get("paths", ["plugins"])),
        entry_points=plugins.get("entry_points", True),
        slack_webhook_url=os.environ.get("DATAFLOW_SLACK_WEBHOOK") or slack.get("webhook_url"),
        slack_levels=tuple(slack.get("alert_on_levels", ["ERROR", "FATAL"])),
        ui_host=ui.get("host", "127.0.0.1"),
        ui_port=ui.get("port", 5006),
        ui_token=os.environ.get("DATAFLOW_ADMIN_TOKEN") or ui.get("token"),
        log_level=logging_.get("level", "INFO"),
        log_directory=logging_.get("directory", "logs"),
        retry=data.get("retry") or {},
        checkpoints=data.get("checkpoints", "auto"),
        retention=data.get("retention") or {},
        alerts=AlertSections({key: data[key] for key in ("alerts", "slack")
                              if data.get(key) is not None}),
    )


def read_settings(project_dir: Path) -> tuple[Settings, YamlDocument, list]:
    """Settings of a project and the problems found in its system.yaml."""
    document, problems = read_yaml(project_dir / SYSTEM_FILE, SYSTEM_FILE)
    problems = problems or document_problems(document, SYSTEM_SCHEMA)
    settings = Settings() if problems else _from_data(document.data)
    if not problems and os.environ.get("DATAFLOW_SCHEDULER"):
        cluster = ClusterSettings(**{**settings.cluster.__dict__,
                                     "address": os.environ["DATAFLOW_SCHEDULER"]})
        settings = Settings(**{**settings.__dict__, "cluster": cluster})
    return settings, document, problems

