"""Global settings from config/system.yaml: frozen, validated, every default here once."""
from __future__ import annotations

import os
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
        }},
        "plugins": {"type": "object", "additionalProperties": False, "properties": {
            "paths": {"type": "array", "items": {"type": "string"}},
            "entry_points": {"type": "boolean"},
        }},
        "slack": {"type": "object", "additionalProperties": False, "properties": {
            "webhook_url": {"type": ["string", "null"]},
            "alert_on_levels": {"type": "array", "items": {"enum": ["ERROR", "FATAL"]}},
        }},
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
    },
}


@dataclass(frozen=True)
class ClusterSettings:
    address: str | None = None          # an existing scheduler, e.g. tcp://10.0.0.5:8786
    cpu_target: float = 0.8             # whole-machine CPU share dataflow aims for
    n_workers: int | None = None        # worker processes; default: one per core (≥ 2)
    max_workers: int | None = None      # adaptive ceiling; default: n_workers
    dashboard_address: str | None = "127.0.0.1:0"
    cancel_grace_seconds: float = 5.0   # cooperative cancel, then a hard stop


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

