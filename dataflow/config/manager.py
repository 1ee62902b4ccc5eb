"""ConfigManager: the one way to read and change configuration (spec 000).

Plugin config lives in MongoDB per plugin per pipeline, layered over CONFIG_SCHEMA
defaults and YAML: defaults < `plugin_config:` < `pipelines.P.config:` < stored.
Every update is validated first (field-level errors, nothing written on failure)
and versioned, so earlier versions can be listed and restored. Pipelines come from
config/pipelines.yaml and, next to them, from the database (see pipeline_store).
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from bson import encode as bson_encode
from bson.errors import InvalidDocument
from pymongo import DESCENDING, ReturnDocument

from dataflow.config.layers import deep_merge, layer_sources, merge_layers, schema_defaults
from dataflow.errors import DataflowError, PipelineNotFound
from dataflow.config.stored_pipelines import PipelineStore, PipelineView, describe
from dataflow.config.schema_check import config_field_errors
from dataflow.config.pipelines import PipelineSpec, ProjectSpec
from dataflow.store.connection import StoreAddress

SECRET_KEYS = ("slack_webhook_url", "ui_token")


def _all_keys(value) -> list[str]:
    """Every string key of nested mappings (lists included)."""
    if isinstance(value, dict):
        return [k for k in value if isinstance(k, str)] + [
            key for item in value.values() for key in _all_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in _all_keys(item)]
    return []


class ConfigValidationError(DataflowError):
    """A config does not match the plugin's CONFIG_SCHEMA; `errors` has one entry a field."""

    def __init__(self, plugin_id: str, pipeline: str, errors: list[dict], saving: bool = True):
        self.plugin_id, self.pipeline, self.errors = plugin_id, pipeline, errors
        lines = "\n".join(f"  - {e['field']}: {e['message']}" for e in errors)
        if saving:
            head, fix = "is invalid (nothing was saved)", "correct these fields and try again"
        else:
            head = "does not match its CONFIG_SCHEMA"
            fix = (f"see where each value comes from with `dataflow config show {plugin_id} "
                   f"--pipeline {pipeline}`, then correct it there")
        super().__init__(f"config of plugin {plugin_id!r} for pipeline {pipeline!r} {head}:\n"
                         f"{lines}\nfix: {fix}")


class ConfigManager:
    """Reads layered config and pipelines; writes validated, versioned plugin config and
    stored pipelines."""

    def __init__(self, project):
        self.project = project
        self.pipelines = PipelineStore(project)

    @property
    def registry(self):
        return self.project.registry

    @property
    def db(self):
        return self.project.db

    def get_global_config(self) -> dict:
        """system.yaml as loaded, secrets masked and store credentials removed."""
        values = asdict(self.project.settings)
        for key in SECRET_KEYS:
            values[key] = "***" if values.get(key) else None
        if values.get("store_uri"):
            values["store_uri"] = StoreAddress(values["store_uri"]).redacted()
        return values

    # pipelines ------------------------------------------------------------------------
    def pipeline_view(self) -> PipelineView:
        return self.pipelines.view()

    def spec(self) -> ProjectSpec:
        """YAML pipelines plus the stored ones YAML does not define (read fresh)."""
        return self.pipeline_view().spec

    def pipeline(self, name: str) -> PipelineSpec:
        pipelines = self.spec().pipelines
        if name not in pipelines:
            raise PipelineNotFound(name, list(pipelines))
        return pipelines[name]

    def get_pipeline_config(self, name: str) -> dict:
        return describe(self.pipeline(name))

    def list_pipelines(self) -> list[dict]:
        """Every pipeline that runs (`source` yaml | db), then stored ones that are ignored."""
        return self.pipeline_view().listing()

    def create_pipeline(self, name: str, hooks, schedule: str | None = None,
                        priority: str = "normal", description: str = "", enabled: bool = True,
                        author: str = "api") -> dict:
        body = {"hooks": list(hooks) if isinstance(hooks, (list, tuple)) else hooks,
                "schedule": schedule, "priority": priority, "description": description,
                "enabled": enabled}
        self.pipelines.create(name, body, author)
        return self.get_pipeline_config(name)

    def update_pipeline(self, name: str, author: str = "api", **changes) -> dict:
        if isinstance(changes.get("hooks"), tuple):
            changes["hooks"] = list(changes["hooks"])
        self.pipelines.update(name, changes, author)
        return self.get_pipeline_config(name)

    def delete_pipeline(self, name: str) -> dict:
        """Delete a stored pipeline; its stored plugin config and history are kept."""
        return self.pipelines.delete(name)

    # plugin config ---------------------------------------------------------------------
    def stored_configs(self, pipeline: str) -> dict[str, dict]:
        """Stored config of every plugin for a pipeline, in one query."""
        return {doc["plugin"]: doc.get("config") or {} for doc in
                self.db["plugin_configs"].find({"pipeline": pipeline}, {"plugin": 1, "config": 1})}

    def all_stored_configs(self) -> dict[str, dict[str, dict]]:
        """Stored config by pipeline, then plugin, in one query."""
        found: dict[str, dict[str, dict]] = {}
        for doc in self.db["plugin_configs"].find({}, {"plugin": 1, "pipeline": 1, "config": 1}):
            found.setdefault(doc["pipeline"], {})[doc["plugin"]] = doc.get("config") or {}
        return found

    def layers(self, plugin_id: str, pipeline: str, stored: dict | None = None) -> list:
        """(source, values) layers of a plugin's config, lowest first."""
        info = self.registry.get(plugin_id)
        yaml_spec = self.project.yaml_spec
        if stored is None:
            stored = self.stored_configs(pipeline).get(plugin_id, {})
        yaml_pipeline = yaml_spec.pipelines.get(pipeline)
        return [("default", schema_defaults(info.config_schema)),
                ("yaml", yaml_spec.plugin_config.get(plugin_id, {})),
                ("yaml", yaml_pipeline.plugin_config.get(plugin_id, {}) if yaml_pipeline else {}),
                ("stored", stored)]

    def effective_config(self, plugin_id: str, pipeline: str, stored: dict | None = None) -> dict:
        return merge_layers(self.layers(plugin_id, pipeline, stored))

    def get_plugin_config(self, plugin_id: str, pipeline: str) -> dict:
        self.pipeline(pipeline)
        config = self.effective_config(plugin_id, pipeline)
        self.check(plugin_id, pipeline, config)
        return config

    def describe_config(self, plugin_id: str, pipeline: str) -> dict:
        """Effective config, the source of each top-level key, the stored version, errors."""
        self.pipeline(pipeline)
        info = self.registry.get(plugin_id)
        current = self.db["plugin_configs"].find_one({"_id": f"{plugin_id}:{pipeline}"}) or {}
        layers = self.layers(plugin_id, pipeline, current.get("config") or {})
        config = merge_layers(layers)
        return {"plugin": plugin_id, "pipeline": pipeline, "plugin_version": info.version,
                "config": config, "sources": layer_sources(layers),
                "stored": current.get("config") or {}, "version": current.get("version"),
                "updated": current.get("updated"), "author": current.get("author"),
                "errors": config_field_errors(config, info.config_schema)}

    def check(self, plugin_id: str, pipeline: str, config: dict, saving: bool = False) -> None:
        errors = config_field_errors(config, self.registry.get(plugin_id).config_schema)
        if errors:
            raise ConfigValidationError(plugin_id, pipeline, errors, saving)

    def update_plugin_config(self, plugin_id: str, pipeline: str, config: dict,
                             author: str = "api", merge: bool = False, **note) -> dict:
        """Validate the layered result, then store `config` (merged into the stored layer
        when `merge`) as a new version."""
        self.pipeline(pipeline)
        info = self.registry.get(plugin_id)
        if not isinstance(config, dict):
            raise ConfigValidationError(plugin_id, pipeline, [
                {"field": "(root)", "message": "config must be a JSON object"}])
        if merge:
            config = deep_merge(self.stored_configs(pipeline).get(plugin_id, {}), config)
        self._check_storable(plugin_id, pipeline, config)
        self.check(plugin_id, pipeline, self.effective_config(plugin_id, pipeline, config), True)
        return self._store_version(info, pipeline, config, author, note)

    @staticmethod
    def _check_storable(plugin_id: str, pipeline: str, config: dict) -> None:
        bad = [key for key in _all_keys(config) if key.startswith("$") or "." in key]
        errors = [{"field": key, "message": "a field name may not start with '$' or contain '.'"}
                  for key in bad]
        try:
            bson_encode({"config": config})
        except (InvalidDocument, OverflowError) as error:
            errors.append({"field": "(root)", "message": f"cannot be stored: {error}"})
        if errors:
            raise ConfigValidationError(plugin_id, pipeline, errors)

    def _store_version(self, info, pipeline: str, config: dict, author: str, note: dict) -> dict:
        key = f"{info.id}:{pipeline}"
        counter = self.db["meta"].find_one_and_update(
            {"_id": f"config-version:{key}"}, {"$inc": {"value": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        record = {"plugin": info.id, "pipeline": pipeline, "config": config,
                  "version": counter["value"], "updated": datetime.now(timezone.utc),
                  "plugin_version": info.version, "author": author, **note}
        self.db["config_history"].insert_one({"_id": f"{key}:{counter['value']}", **record})
        self.db["plugin_configs"].replace_one({"_id": key}, record, upsert=True)
        return record

    def history(self, plugin_id: str, pipeline: str) -> list[dict]:
        """Every stored version, newest first."""
        self.registry.get(plugin_id)
        self.pipeline(pipeline)
        return list(self.db["config_history"].find(
            {"plugin": plugin_id, "pipeline": pipeline}, {"_id": 0}).sort("version", DESCENDING))

    def restore(self, plugin_id: str, pipeline: str, version: int, author: str = "restore") -> dict:
        """Store version `version` again, as a new version (validated like any update)."""
        versions = [entry["version"] for entry in self.history(plugin_id, pipeline)]
        old = self.db["config_history"].find_one({"_id": f"{plugin_id}:{pipeline}:{version}"})
        if old is None:
            known = ", ".join(map(str, sorted(versions))) or "none"
            raise DataflowError(
                f"plugin {plugin_id!r} has no stored config version {version} for pipeline "
                f"{pipeline!r} (versions: {known}); list them with "
                f"`dataflow config history {plugin_id} --pipeline {pipeline}`")
        return self.update_plugin_config(plugin_id, pipeline, old["config"], author,
                                         restored_from=version)
