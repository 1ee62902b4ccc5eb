"""Pipelines from config/pipelines.yaml: named sequences of hooks, optional schedules."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataflow.config.schema_check import document_problems
from dataflow.config.settings import PRIORITIES
from dataflow.config.yaml_file import YamlDocument, read_yaml
from dataflow.schedule.cron import CRON_FIX, cron_error
from dataflow.schedule.policy import POLICY_KEYS, VALIDATORS

PIPELINES_FILE = "config/pipelines.yaml"
NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"

PIPELINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hooks"],
    "properties": {
        "hooks": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "pattern": NAME_PATTERN}},
        "schedule": {"type": ["string", "null"]},
        "description": {"type": "string"},
        "priority": {"enum": PRIORITIES},
        "enabled": {"type": "boolean"},
        "config": {"type": "object", "additionalProperties": {"type": "object"}},
        # the schedule policy (dataflow.schedule.policy.SchedulePolicy): any value here,
        # checked by its validators below, so every face words a problem the same way
        **{key: {} for key in POLICY_KEYS if key != "schedule"},
    },
}

PIPELINES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["pipelines"],
    "properties": {
        "pipelines": {"type": "object", "propertyNames": {"pattern": NAME_PATTERN},
                      "additionalProperties": PIPELINE_SCHEMA},
        "hooks": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "string"}}},
        "plugin_config": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}


@dataclass(frozen=True)
class Pipeline:
    """One named pipeline: its hooks in order and how it is run."""

    name: str
    hooks: tuple[str, ...]
    schedule: str | None = None
    priority: str = "normal"
    description: str = ""
    enabled: bool = True
    plugin_config: dict = field(default_factory=dict, compare=False)
    source: str = field(default="yaml", compare=False)    # yaml | db (stored in the database)
    # the schedule policy's other keys as written (None: unset, SchedulePolicy's default)
    timezone: str | None = None
    catchup: str | None = None
    max_catchup: int | None = None
    overlap: str | None = None
    max_active_runs: int | None = None
    paused: bool | None = None
    grace_seconds: int | None = None

    def schedule_keys(self) -> dict:
        """The keys `SchedulePolicy.from_mapping` reads, as written (None: unset)."""
        return {key: getattr(self, key) for key in POLICY_KEYS}


@dataclass(frozen=True)
class PipelinesFile:
    """All pipelines, the optional central hook → plugins map, YAML plugin config."""

    pipelines: dict[str, Pipeline]
    hook_map: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plugin_config: dict[str, dict] = field(default_factory=dict)


def _pipeline(name: str, body: dict) -> Pipeline:
    policy: dict[str, Any] = {key: body.get(key) for key in POLICY_KEYS if key != "schedule"}
    return Pipeline(
        name=name, hooks=tuple(body["hooks"]), schedule=body.get("schedule"),
        priority=body.get("priority", "normal"), description=body.get("description", ""),
        enabled=body.get("enabled", True), plugin_config=body.get("config") or {}, **policy)


def schedule_error(schedule) -> str | None:
    """Why a schedule is not a 5-field cron expression (None when it is, or is unset)."""
    if isinstance(schedule, str) and schedule.strip():
        return cron_error(schedule)
    return None


def _policy_problems(document: YamlDocument, name: str, body: dict) -> list:
    """The schedule policy's invalid values in one entry, worded as SchedulePolicy does."""
    problems = []
    for key in POLICY_KEYS:
        value = body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue            # unset: the default applies
        error = VALIDATORS[key](value)
        if error:
            problems.append(document.problem(("pipelines", name, key), *error))
    return problems


def _schedule_problems(document: YamlDocument) -> list:
    """Invalid schedule policies (cron, time zone, ...); safe on a document that broke
    the schema too."""
    problems = []
    pipelines = document.data.get("pipelines")
    for name, body in pipelines.items() if isinstance(pipelines, dict) else ():
        if isinstance(body, dict):
            problems += _policy_problems(document, name, body)
    return problems


def read_pipelines_file(project_dir: Path) -> tuple[PipelinesFile, YamlDocument, list]:
    """The project's pipelines and every problem of pipelines.yaml on its own."""
    document, problems = read_yaml(project_dir / PIPELINES_FILE, PIPELINES_FILE)
    if not problems and not (project_dir / PIPELINES_FILE).exists():
        problems = [document.problem((), f"{PIPELINES_FILE} not found in {project_dir}",
                                     "create it, or point --project / DATAFLOW_PROJECT at a project")]
    problems = problems or (document_problems(document, PIPELINES_SCHEMA)
                            + _schedule_problems(document))
    if problems:
        return PipelinesFile(pipelines={}), document, problems
    data = document.data
    pipelines = {name: _pipeline(name, body) for name, body in data["pipelines"].items()}
    hook_map = {hook: tuple(ids) for hook, ids in (data.get("hooks") or {}).items()}
    return PipelinesFile(pipelines, hook_map, data.get("plugin_config") or {}), document, []

