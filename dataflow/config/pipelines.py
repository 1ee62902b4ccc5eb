"""Pipelines from config/pipelines.yaml: named sequences of hooks, optional schedules."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataflow.config.schema_check import document_problems
from dataflow.config.settings import PRIORITIES, RETENTION_SCHEMA
from dataflow.config.yaml_file import YamlDocument, read_yaml
from dataflow.schedule.cron import cron_error
from dataflow.schedule.policy import POLICY_KEYS, VALIDATORS

PIPELINES_FILE = "config/pipelines.yaml"
NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
# a span of time: "26h", "30m", "1h30m", "2d", "90s" (dataflow.alerts.absence.parse_duration)
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[smhd]\s*)+$"
DURATION = {"type": ["string", "null"], "pattern": DURATION_PATTERN}
NAMES = {"type": "array", "uniqueItems": True, "items": {"type": "string", "pattern": NAME_PATTERN}}
ON_UPSTREAM = "on_upstream"         # `schedule: on_upstream`: run when its inputs are fresh
ON_UNMET = ("refuse", "wait")       # a due run whose upstream is stale: refused, or waits
# the plugins of one hook in a hook map: their names, or {plugins: [names], tags: [tags]}
_NAMES = {"type": "array", "items": {"type": "string"}}
# `env:` of command plugins (system.yaml, a pipeline, a command): NAME → value
ENV_SCHEMA = {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
              "additionalProperties": {"type": ["string", "number", "boolean"]}}
HOOK_PLUGINS = {"oneOf": [_NAMES, {"type": "object", "additionalProperties": False,
                                   "minProperties": 1,
                                   "properties": {"plugins": _NAMES, "tags": _NAMES}}]}

PIPELINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hooks"],
    "properties": {
        # a list of hooks, or hook → the plugins it runs in this pipeline (in order)
        "hooks": {"oneOf": [
            {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": NAME_PATTERN}},
            {"type": "object", "minProperties": 1, "propertyNames": {"pattern": NAME_PATTERN},
             "additionalProperties": HOOK_PLUGINS}]},
        "schedule": {"type": ["string", "null"]},
        "description": {"type": "string"},
        "priority": {"enum": PRIORITIES},
        "enabled": {"type": "boolean"},
        "atomic": {"type": "boolean"},      # a fail-hard failure undoes the whole run
        "config": {"type": "object", "additionalProperties": {"type": "object"}},
        # alerts (dataflow.alerts): absence checks and who is mailed about this pipeline's runs
        "max_data_age": DURATION,
        "expected_duration": DURATION,
        # dependencies and gates (config/dependencies.py, run/preconditions.py)
        "depends_on": NAMES, "provides": NAMES, "requires": NAMES, "gates": NAMES,
        "on_unmet": {"enum": list(ON_UNMET)},
        "retention": RETENTION_SCHEMA,      # overrides system.yaml's, key by key
        "env": ENV_SCHEMA,                  # command plugins' env (over system.yaml's)
        "alerts": {"type": ["object", "null"], "additionalProperties": False, "properties": {
            "email": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                "on_failure": {"type": "boolean"}, "on_success": {"type": "boolean"},
                "to": {"type": "array", "items": {"type": "string", "pattern": "@"}}}}}},
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
        "hooks": {"type": "object", "additionalProperties": HOOK_PLUGINS},
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
    # `hooks:` as a mapping: the plugins of each hook for this pipeline only (overriding the
    # central `hooks:` map and the plugins' own HOOKS/PIPELINES)
    hook_plugins: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # `hooks: {hook: {tags: [...]}}`: plugins chosen by TAGS too (hooks also in hook_plugins)
    hook_tags: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # the schedule policy's other keys as written (None: unset, SchedulePolicy's default)
    timezone: str | None = None
    catchup: str | None = None
    max_catchup: int | None = None
    overlap: str | None = None
    max_active_runs: int | None = None
    paused: bool | None = None
    grace_seconds: int | None = None
    # alerts: a success is due within max_data_age, a run within expected_duration
    # ("26h", "30m"; None: not watched); `alerts:` as written (its `email:` choices)
    max_data_age: str | None = None
    expected_duration: str | None = None
    alerts: dict = field(default_factory=dict, compare=False)
    # dependencies (upstream pipelines, data assets provided/required), what a due run
    # does while they are stale, gates that must be open; `schedule: on_upstream`
    depends_on: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    on_unmet: str = "refuse"
    gates: tuple[str, ...] = ()
    on_upstream: bool = False
    retention: dict = field(default_factory=dict, compare=False)    # `retention:` as written
    env: dict = field(default_factory=dict, compare=False)    # command plugins' `env:`
    atomic: bool = False        # a fail-hard failure rolls back every completed task

    def schedule_keys(self) -> dict:
        """The keys `SchedulePolicy.from_mapping` reads, as written (None: unset)."""
        return {key: getattr(self, key) for key in POLICY_KEYS}


@dataclass(frozen=True)
class PipelinesFile:
    """All pipelines, the optional central hook → plugins map, YAML plugin config."""

    pipelines: dict[str, Pipeline]
    hook_map: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plugin_config: dict[str, dict] = field(default_factory=dict)
    hook_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)   # central map's tags


def split_hook_map(hooks: dict) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """A hook map as written → ({hook: plugin names}, {hook: tags}) (tags only when given)."""
    names = {hook: tuple((value.get("plugins") if isinstance(value, dict) else value) or ())
             for hook, value in hooks.items()}
    tags = {hook: tuple(value.get("tags") or ()) for hook, value in hooks.items()
            if isinstance(value, dict) and value.get("tags")}
    return names, tags


def _pipeline(name: str, body: dict) -> Pipeline:
    policy: dict[str, Any] = {key: body.get(key) for key in POLICY_KEYS if key != "schedule"}
    hooks = body["hooks"]
    hook_plugins, hook_tags = split_hook_map(hooks) if isinstance(hooks, dict) else ({}, {})
    schedule = body.get("schedule")
    on_upstream = schedule == ON_UPSTREAM       # not a cron: the scheduler's upstream watch
    links: dict[str, Any] = {key: tuple(body.get(key) or ()) for key in (
        "depends_on", "provides", "requires", "gates")}
    return Pipeline(
        name=name, hooks=tuple(hooks), schedule=None if on_upstream else schedule,
        hook_plugins=hook_plugins, on_upstream=on_upstream, **links,
        on_unmet=body.get("on_unmet") or "refuse",
        hook_tags=hook_tags,
        priority=body.get("priority", "normal"), description=body.get("description", ""),
        enabled=body.get("enabled", True), plugin_config=body.get("config") or {},
        max_data_age=body.get("max_data_age"), expected_duration=body.get("expected_duration"),
        alerts=body.get("alerts") or {}, retention=body.get("retention") or {},
        env=body.get("env") or {}, atomic=bool(body.get("atomic", False)), **policy)


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
        if key == "schedule" and value == ON_UPSTREAM:
            continue
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
    hook_map, hook_tags = split_hook_map(data.get("hooks") or {})
    return (PipelinesFile(pipelines, hook_map, data.get("plugin_config") or {}, hook_tags),
            document, [])

