"""Pipelines from config/pipelines.yaml: named sequences of hooks, optional schedules."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from croniter import croniter

from dataflow.errors import ConfigError
from dataflow.config.schema_check import document_problems
from dataflow.config.settings import PRIORITIES
from dataflow.config.yaml_file import YamlDocument, read_yaml

PIPELINES_FILE = "config/pipelines.yaml"
NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"

PIPELINE_SCHEMA = {
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
CRON_FIX = "use five fields: minute hour day-of-month month day-of-week, e.g. '*/10 * * * *'"


@dataclass(frozen=True)
class PipelineSpec:
    """One named pipeline: its hooks in order and how it is run."""

    name: str
    hooks: tuple[str, ...]
    schedule: str | None = None
    priority: str = "normal"
    description: str = ""
    enabled: bool = True
    plugin_config: dict = field(default_factory=dict, compare=False)
    source: str = field(default="yaml", compare=False)    # yaml | db (stored in the database)


@dataclass(frozen=True)
class ProjectSpec:
    """All pipelines, the optional central hook → plugins map, YAML plugin config."""

    pipelines: dict[str, PipelineSpec]
    hook_map: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plugin_config: dict[str, dict] = field(default_factory=dict)


def _pipeline(name: str, body: dict) -> PipelineSpec:
    return PipelineSpec(
        name=name, hooks=tuple(body["hooks"]), schedule=body.get("schedule"),
        priority=body.get("priority", "normal"), description=body.get("description", ""),
        enabled=body.get("enabled", True), plugin_config=body.get("config") or {})


def schedule_error(schedule) -> str | None:
    """Why a schedule is not a valid cron expression (None when it is, or is unset)."""
    if isinstance(schedule, str) and schedule and not croniter.is_valid(schedule):
        return f"invalid cron expression {schedule!r}"
    return None


def _schedule_problems(document: YamlDocument) -> list:
    """Invalid cron expressions; safe on a document that broke the schema too."""
    problems = []
    pipelines = document.data.get("pipelines")
    for name, body in pipelines.items() if isinstance(pipelines, dict) else ():
        error = schedule_error(body.get("schedule") if isinstance(body, dict) else None)
        if error:
            problems.append(document.problem(("pipelines", name, "schedule"), error, CRON_FIX))
    return problems


def read_spec(project_dir: Path) -> tuple[ProjectSpec, YamlDocument, list]:
    """The project's pipelines and every problem of pipelines.yaml on its own."""
    document, problems = read_yaml(project_dir / PIPELINES_FILE, PIPELINES_FILE)
    if not problems and not (project_dir / PIPELINES_FILE).exists():
        problems = [document.problem((), f"{PIPELINES_FILE} not found in {project_dir}",
                                     "create it, or point --project / DATAFLOW_PROJECT at a project")]
    problems = problems or (document_problems(document, PIPELINES_SCHEMA)
                            + _schedule_problems(document))
    if problems:
        return ProjectSpec(pipelines={}), document, problems
    data = document.data
    pipelines = {name: _pipeline(name, body) for name, body in data["pipelines"].items()}
    hook_map = {hook: tuple(ids) for hook, ids in (data.get("hooks") or {}).items()}
    return ProjectSpec(pipelines, hook_map, data.get("plugin_config") or {}), document, []


def load_spec(project_dir: Path) -> ProjectSpec:
    spec, _, problems = read_spec(project_dir)
    if problems:
        raise ConfigError(problems)
    return spec
