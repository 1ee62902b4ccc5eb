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
from typing import TYPE_CHECKING, Any

from bson import encode as bson_encode
from bson.errors import InvalidDocument

from dataflow.config.migrate import migrate_plugin, migrated_configs
from dataflow.config.layers import deep_merge, layer_sources, merge_layers, schema_defaults
from dataflow.errors import ConfigValidationError, NotFound, PipelineNotFound
from dataflow.config.stored_pipelines import PipelineStore, PipelineView, describe
from dataflow.config.schema_check import config_field_errors
from dataflow.config.pipelines import Pipeline, PipelinesFile
from dataflow.store import configs as stored
from dataflow.store.connection import StoreAddress

if TYPE_CHECKING:
    from pymongo.database import Database

    from dataflow.plugins.contract import PluginInfo
    from dataflow.plugins.registry import PluginRegistry
    from dataflow.project import Project

SECRET_KEYS = ("slack_webhook_url", "ui_token")


def _all_keys(value) -> list[str]:
    """Every string key of nested mappings (lists included)."""
    if isinstance(value, dict):
        return [k for k in value if isinstance(k, str)] + [
            key for item in value.values() for key in _all_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in _all_keys(item)]
    return []


class ConfigManager:
    """Reads layered config and pipelines; writes validated, versioned plugin config and
    stored pipelines."""

    def __init__(self, project: Project):
        self.project = project
        self.pipelines = PipelineStore(project)

    @property
    def registry(self) -> PluginRegistry:
        return self.project.registry

    @property
    def db(self) -> Database[Any]:
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

    def pipelines_file(self) -> PipelinesFile:
        """YAML pipelines plus the stored ones YAML does not define (read fresh)."""
        return self.pipeline_view().pipelines_file

    def pipeline(self, name: str) -> Pipeline:
        pipelines = self.pipelines_file().pipelines
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
                        author: str = "api", **keys) -> dict:
        """Store a pipeline; `keys`: any other key of a pipelines.yaml entry (timezone,
        overlap, max_data_age, alerts, ...), validated alike."""
        body = {"hooks": list(hooks) if isinstance(hooks, (list, tuple)) else hooks,
                "schedule": schedule, "priority": priority, "description": description,
                "enabled": enabled, **keys}
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
        """Stored config of every plugin for a pipeline, in one query; a config saved under
        an older major VERSION of a plugin with migrate_config is migrated first and the
        result stored as a new version (config/migrate.py)."""
        return migrated_configs(self, stored.stored_records(self.db, pipeline))

    def migrate(self, plugin_id: str, pipeline: str | None = None) -> list[dict]:
        """Apply the plugin's migrate_config to its stored configs saved under an older
        major VERSION (one pipeline or all); returns the new versions."""
        return migrate_plugin(self, plugin_id, pipeline)

    def all_stored_configs(self) -> dict[str, dict[str, dict]]:
        """Stored config by pipeline, then plugin, in one query."""
        return stored.all_stored_configs(self.db)

    def layers(self, plugin_id: str, pipeline: str, stored_layer: dict | None = None) -> list:
        """(source, values) layers of a plugin's config, lowest first."""
        info = self.registry.get(plugin_id)
        yaml_pipelines = self.project.yaml_pipelines
        if stored_layer is None:
            stored_layer = self.stored_configs(pipeline).get(plugin_id, {})
        yaml_pipeline = yaml_pipelines.pipelines.get(pipeline)
        return [("default", schema_defaults(info.config_schema)),
                ("yaml", yaml_pipelines.plugin_config.get(plugin_id, {})),
                ("yaml", yaml_pipeline.plugin_config.get(plugin_id, {}) if yaml_pipeline else {}),
                ("stored", stored_layer)]

    def effective_config(self, plugin_id: str, pipeline: str,
                         stored_layer: dict | None = None) -> dict:
        return merge_layers(self.layers(plugin_id, pipeline, stored_layer))

    def get_plugin_config(self, plugin_id: str, pipeline: str) -> dict:
        self.pipeline(pipeline)
        config = self.effective_config(plugin_id, pipeline)
        self.check(plugin_id, pipeline, config)
        return config

    def describe_config(self, plugin_id: str, pipeline: str) -> dict:
        """Effective config, the source of each top-level key, the stored version, errors."""
        self.pipeline(pipeline)
        info = self.registry.get(plugin_id)
        current = stored.current_config(self.db, plugin_id, pipeline)
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

    def _store_version(self, info: PluginInfo, pipeline: str, config: dict, author: str, note: dict) -> dict:
        return stored.store_config_version(self.db, {
            "plugin": info.id, "pipeline": pipeline, "config": config,
            "updated": datetime.now(timezone.utc), "plugin_version": info.version,
            "author": author, **note})

    def history(self, plugin_id: str, pipeline: str) -> list[dict]:
        """Every stored version, newest first."""
        self.registry.get(plugin_id)
        self.pipeline(pipeline)
        return stored.config_history(self.db, plugin_id, pipeline)

    def restore(self, plugin_id: str, pipeline: str, version: int, author: str = "restore") -> dict:
        """Store version `version` again, as a new version (validated like any update)."""
        versions = [entry["version"] for entry in self.history(plugin_id, pipeline)]
        old = stored.config_version(self.db, plugin_id, pipeline, version)
        if old is None:
            known = ", ".join(map(str, sorted(versions))) or "none"
            raise NotFound(
                f"plugin {plugin_id!r} has no stored config version {version} for pipeline "
                f"{pipeline!r} (versions: {known}); list them with "
                f"`dataflow config history {plugin_id} --pipeline {pipeline}`")
        return self.update_plugin_config(plugin_id, pipeline, old["config"], author,
                                         restored_from=version)
