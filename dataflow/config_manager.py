"""ConfigManager: the one way to read and change configuration (spec 000).

Plugin config lives in MongoDB per plugin per pipeline, layered over CONFIG_SCHEMA
defaults and YAML. Every update is validated first (field-level errors, nothing
written on failure) and versioned, so earlier versions can be listed and restored.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from pymongo import DESCENDING, ReturnDocument

from dataflow.config_layers import layered_config
from dataflow.errors import DataflowError, PipelineNotFound
from dataflow.schema_check import config_field_errors

SECRET_KEYS = ("slack_webhook_url", "ui_token")


class ConfigValidationError(DataflowError):
    """A config does not match the plugin's CONFIG_SCHEMA; `errors` has one entry a field."""

    def __init__(self, plugin_id: str, pipeline: str, errors: list[dict]):
        self.plugin_id, self.pipeline, self.errors = plugin_id, pipeline, errors
        details = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"config of plugin {plugin_id!r} for pipeline {pipeline!r} is invalid: "
                         f"{details}. Nothing was saved; correct these fields and try again")


class ConfigManager:
    """Reads layered config; writes validated, versioned plugin config to the store."""

    def __init__(self, settings, spec, registry, db):
        self.settings, self.spec, self.registry, self.db = settings, spec, registry, db

    def get_global_config(self) -> dict:
        """system.yaml as loaded, secrets masked."""
        values = asdict(self.settings)
        for key in SECRET_KEYS:
            values[key] = "***" if values.get(key) else None
        return values

    def get_pipeline_config(self, name: str) -> dict:
        pipeline = self.spec.pipelines.get(name)
        if pipeline is None:
            raise PipelineNotFound(name, list(self.spec.pipelines))
        return {"name": name, "hooks": list(pipeline.hooks), "schedule": pipeline.schedule,
                "priority": pipeline.priority, "description": pipeline.description,
                "enabled": pipeline.enabled}

    def stored_configs(self, pipeline: str) -> dict[str, dict]:
        """Stored config of every plugin for a pipeline, in one query."""
        return {doc["plugin"]: doc.get("config") or {} for doc in
                self.db["plugin_configs"].find({"pipeline": pipeline}, {"plugin": 1, "config": 1})}

    def effective_config(self, plugin_id: str, pipeline: str, stored: dict | None = None) -> dict:
        info = self.registry.get(plugin_id)
        if stored is None:
            stored = self.stored_configs(pipeline).get(plugin_id, {})
        pipeline_spec = self.spec.pipelines.get(pipeline)
        yaml_pipeline = pipeline_spec.plugin_config.get(plugin_id, {}) if pipeline_spec else {}
        return layered_config(info.config_schema, self.spec.plugin_config.get(plugin_id, {}),
                              yaml_pipeline, stored)

    def get_plugin_config(self, plugin_id: str, pipeline: str) -> dict:
        config = self.effective_config(plugin_id, pipeline)
        self.check(plugin_id, pipeline, config)
        return config

    def check(self, plugin_id: str, pipeline: str, config: dict) -> None:
        errors = config_field_errors(config, self.registry.get(plugin_id).config_schema)
        if errors:
            raise ConfigValidationError(plugin_id, pipeline, errors)

    def update_plugin_config(self, plugin_id: str, pipeline: str, config: dict,
                             author: str = "api") -> dict:
        """Validate the layered result, then store `config` as a new version."""
        if pipeline not in self.spec.pipelines:
            raise PipelineNotFound(pipeline, list(self.spec.pipelines))
        if not isinstance(config, dict):
            raise ConfigValidationError(plugin_id, pipeline, [
                {"field": "(root)", "message": "config must be a JSON object"}])
        info = self.registry.get(plugin_id)
        self.check(plugin_id, pipeline, self.effective_config(plugin_id, pipeline, config))
        return self._store_version(info, pipeline, config, author)

    def _store_version(self, info, pipeline: str, config: dict, author: str) -> dict:
        key = f"{info.id}:{pipeline}"
        now = datetime.now(timezone.utc)
        counter = self.db["meta"].find_one_and_update(
            {"_id": f"config-version:{key}"}, {"$inc": {"value": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        record = {"plugin": info.id, "pipeline": pipeline, "config": config,
                  "version": counter["value"], "updated": now,
                  "plugin_version": info.version, "author": author}
        self.db["config_history"].insert_one({"_id": f"{key}:{counter['value']}", **record})
        self.db["plugin_configs"].replace_one({"_id": key}, record, upsert=True)
        return record

    def history(self, plugin_id: str, pipeline: str) -> list[dict]:
        return list(self.db["config_history"].find(
            {"plugin": plugin_id, "pipeline": pipeline}, {"_id": 0}).sort("version", DESCENDING))

    def restore(self, plugin_id: str, pipeline: str, version: int, author: str = "restore") -> dict:
        old = self.db["config_history"].find_one({"_id": f"{plugin_id}:{pipeline}:{version}"})
        if old is None:
            raise DataflowError(f"plugin {plugin_id!r} has no stored config version {version} for "
                                f"pipeline {pipeline!r}; see `dataflow config history {plugin_id}`")
        return self.update_plugin_config(plugin_id, pipeline, old["config"], author)
