"""Pipelines stored in the database (collection `pipelines`), next to config/pipelines.yaml.

YAML is the default source and wins: a stored pipeline may not take a name that
YAML defines, and if YAML gains that name later the stored one is ignored (and
`dataflow validate` says so). A stored pipeline carries every key of a pipelines.yaml
entry but `config:` — the schedule policy (timezone, catchup,
max_catchup, overlap, max_active_runs, paused, ...), max_data_age, expected_duration,
alerts — and is validated and read with the same rules. Reached through ConfigManager.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from dataflow.errors import AlreadyExists, Conflict, NotFound, PipelineValidationError
from dataflow.config.env_secrets import stored_env_errors
from dataflow.config.schema_check import config_field_errors
from dataflow.store import pipelines as store
from dataflow.config.pipelines import (NAME_PATTERN, ON_UPSTREAM, PIPELINE_SCHEMA,
                                       PIPELINES_FILE, Pipeline, PipelinesFile, _pipeline)
from dataflow.schedule.policy import POLICY_KEYS, VALIDATORS

if TYPE_CHECKING:
    from dataflow.project import Project

FIELDS = tuple(key for key in PIPELINE_SCHEMA["properties"] if key != "config")
SHOWN = ("hooks", "schedule", "priority", "description", "enabled")   # always in describe()
EXTRA = (*[key for key in POLICY_KEYS if key != "schedule"], "max_data_age",
         "expected_duration", "alerts")
# A pipelines.yaml entry without `config:` (plugin config of a stored pipeline is
# set with `dataflow config set`, in the stored layer): the same schema, shared, so hooks
# may be a list or a map ({hook: [plugins]} / {hook: {tags: [...]}}) as in YAML.
STORED_SCHEMA = {**PIPELINE_SCHEMA, "properties": {
    key: value for key, value in PIPELINE_SCHEMA["properties"].items() if key in FIELDS}}


def _schema_for(body) -> dict:
    """STORED_SCHEMA with `hooks` narrowed to the form given (a list, else a map), so an
    error names the bad hook instead of "not valid under any of the given schemas"."""
    hooks = body.get("hooks") if isinstance(body, dict) else None
    form = STORED_SCHEMA["properties"]["hooks"]["oneOf"][isinstance(hooks, dict)]
    return {**STORED_SCHEMA, "properties": {**STORED_SCHEMA["properties"], "hooks": form}}


def pipeline_errors(name, body: dict) -> list[dict]:
    """Field-level errors of a pipeline definition: [{field, message}] (empty when valid)."""
    errors = []
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        errors.append({"field": "name", "message": f"{name!r} is not a valid pipeline name; use "
                       "letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"})
    for error in config_field_errors(body, _schema_for(body)):
        if error["field"].startswith("hooks.") and "does not match" in error["message"]:
            error = {**error, "message": f"{error['message'].split(' does not match')[0]} is "
                     "not a valid hook name; use letters, digits, '_', '.' and '-'"}
        errors.append(error)
    if isinstance(body, dict):      # literal secrets in `env:`, refused as in YAML
        errors += _policy_errors(body) + stored_env_errors(body.get("env"))
    return errors


def _policy_errors(body: dict) -> list[dict]:
    """The schedule policy's invalid values, worded as for pipelines.yaml."""
    errors = []
    for key in POLICY_KEYS:
        value = body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()) or \
                (key == "schedule" and value == ON_UPSTREAM):
            continue            # unset: the default applies
        error = VALIDATORS[key](value)
        if error:
            errors.append({"field": key, "message": "; ".join(error)})
    return errors


def _body(document: dict) -> dict:
    return {key: document[key] for key in FIELDS if key in document}


def _pipeline_from(name: str, body: dict) -> Pipeline:
    """Read as a pipelines.yaml entry is."""
    return replace(_pipeline(name, body), source="db")


def describe(pipeline: Pipeline) -> dict:
    """A pipeline as plain data, with where it is defined (`source`: yaml | db); the
    schedule policy's and the alerts' keys when set."""
    return {"name": pipeline.name, "hooks": list(pipeline.hooks), "schedule": pipeline.schedule,
            "priority": pipeline.priority, "description": pipeline.description,
            "enabled": pipeline.enabled, **{key: getattr(pipeline, key) for key in EXTRA
                                            if getattr(pipeline, key, None) not in (None, {})},
            "source": pipeline.source}


def describe_document(name: str, document: dict) -> dict:
    """A stored pipeline as plain data, as stored (valid or not), with who changed it last."""
    return {"name": name, **{key: document.get(key) for key in SHOWN},
            **{key: document[key] for key in FIELDS if key not in SHOWN and key in document},
            "source": "db", "updated": document.get("updated"), "author": document.get("author")}


@dataclass(frozen=True)
class PipelineView:
    """YAML and stored pipelines merged by the rule: YAML wins on a shared name."""

    pipelines_file: PipelinesFile                                   # what runs: YAML + usable stored ones
    stored: dict = field(default_factory=dict)          # every stored document by name
    shadowed: tuple[str, ...] = ()                      # stored, but YAML defines it: ignored
    invalid: dict = field(default_factory=dict)         # stored, but invalid: ignored

    def listing(self) -> list[dict]:
        """Every pipeline that runs (`source` yaml | db), then the ignored stored ones."""
        listed = [describe(p) if p.source == "yaml" else
                  describe_document(p.name, self.stored[p.name])
                  for p in self.pipelines_file.pipelines.values()]
        for name in self.shadowed:
            listed.append({**describe_document(name, self.stored[name]), "ignored":
                           f"{PIPELINES_FILE} defines {name!r} too; the YAML one is used"})
        for name, errors in self.invalid.items():
            reasons = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            listed.append({**describe_document(name, self.stored[name]),
                           "ignored": f"invalid: {reasons}"})
        return listed


def merge(yaml_pipelines: PipelinesFile, documents: dict[str, dict]) -> PipelineView:
    pipelines, shadowed, invalid = dict(yaml_pipelines.pipelines), [], {}
    for name, document in sorted(documents.items()):
        errors = pipeline_errors(name, _body(document))
        if name in yaml_pipelines.pipelines:
            shadowed.append(name)
        elif errors:
            invalid[name] = errors
        else:
            pipelines[name] = _pipeline_from(name, _body(document))
    return PipelineView(replace(yaml_pipelines, pipelines=pipelines), documents, tuple(shadowed),
                        invalid)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class PipelineStore:
    """Create, update and delete stored pipelines of a project; read them merged with YAML."""

    def __init__(self, project: Project):
        self.project = project

    def documents(self) -> dict[str, dict]:
        return store.stored_pipelines(self.project.db)

    def view(self) -> PipelineView:
        return merge(self.project.yaml_pipelines, self.documents())

    def _refuse_yaml_name(self, name: str, action: str) -> None:
        if name in self.project.yaml_pipelines.pipelines:
            raise Conflict(
                f"cannot {action} pipeline {name!r} in the database: {PIPELINES_FILE} defines "
                f"a pipeline of that name, and YAML definitions win over stored ones. Change it "
                f"in {PIPELINES_FILE}, or choose another name")

    def _check(self, name, body: dict) -> None:
        errors = pipeline_errors(name, body)
        if errors:
            raise PipelineValidationError(name, errors)

    def create(self, name: str, body: dict, author: str) -> dict:
        self._check(name, body)
        self._refuse_yaml_name(name, "create")
        now = _now()
        document = {"_id": name, **body, "created": now, "updated": now, "author": author}
        if not store.insert_pipeline(self.project.db, document):
            raise AlreadyExists(
                f"a stored pipeline named {name!r} already exists; change it with "
                f"`dataflow pipelines update {name} ...`, or delete it first with "
                f"`dataflow pipelines delete {name}`")
        return document

    def _existing(self, name: str) -> dict:
        document = store.stored_pipeline(self.project.db, name)
        if document is not None:
            return document
        if name in self.project.yaml_pipelines.pipelines:
            raise Conflict(f"pipeline {name!r} is defined in {PIPELINES_FILE}, not in the "
                                f"database; change or remove it in that file")
        stored = ", ".join(sorted(self.documents())) or "none"
        raise NotFound(f"no stored pipeline named {name!r} (stored: {stored}); create it "
                            f"with `dataflow pipelines create {name} --hooks HOOK,...`")

    def update(self, name: str, changes: dict, author: str) -> dict:
        document = self._existing(name)
        self._refuse_yaml_name(name, "update")
        body = {**_body(document), **changes}
        self._check(name, body)
        document = {**document, **body, "updated": _now(), "author": author}
        store.replace_pipeline(self.project.db, document)
        return document

    def delete(self, name: str) -> dict:
        document = self._existing(name)
        store.delete_pipeline(self.project.db, name)
        return document
