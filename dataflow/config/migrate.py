"""Stored config saved under an older major VERSION of its plugin, and migrating it.

Every stored config version records the plugin's VERSION when it was saved. When the
plugin's major version has grown since (1.x → 2.0), the stored config may no longer mean
what it meant. A plugin may define `migrate_config(old_config, old_version)` returning
the config for its current version: the ConfigManager applies it when it loads such a
config (for a run, a plan) and stores the result as a new config version (author
"migrate", comment "migrated from 1.x"); `dataflow config migrate ID` does it explicitly.
Without migrate_config the config is used as it is, and `dataflow validate` flags it.
"""
from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from dataflow.errors import PluginError, Problem
from dataflow.store import configs as stored

if TYPE_CHECKING:
    from dataflow.config.manager import ConfigManager
    from dataflow.plugins.contract import PluginInfo

AUTHOR = "migrate"
_MAJOR = re.compile(r"^\s*v?(\d+)")


def major(version: Any) -> int | None:
    """The major number of a VERSION string ("2.1.0" → 2), None when it has none."""
    found = _MAJOR.match(str(version)) if version is not None else None
    return int(found.group(1)) if found else None


def outdated(saved_under: Any, current: Any) -> bool:
    """A config saved under major version `saved_under` is older than plugin `current`."""
    old, new = major(saved_under), major(current)
    return old is not None and new is not None and old < new


def migration(manager: ConfigManager, plugin_id: str):
    """The plugin's migrate_config function, or None."""
    function = getattr(manager.registry.module(plugin_id), "migrate_config", None)
    return function if callable(function) else None


def _needs_migration(manager: ConfigManager, record: dict) -> PluginInfo | None:
    info = manager.registry.plugins.get(record.get("plugin", ""))
    if info is None or not outdated(record.get("plugin_version"), info.version):
        return None
    return info


def _call(function, info: PluginInfo, record: dict) -> dict:
    old_version = record.get("plugin_version")
    try:
        migrated = function(copy.deepcopy(record.get("config") or {}), old_version)
    except Exception as error:          # the plugin's bug, reported with where and how
        raise PluginError(
            f"migrate_config of plugin {info.id!r} raised {type(error).__name__}: {error} "
            f"(migrating its stored config for pipeline {record['pipeline']!r} from version "
            f"{old_version} to {info.version}); fix migrate_config, or store a config for "
            f"{info.version} with `dataflow config set {info.id} --pipeline "
            f"{record['pipeline']} --replace ...`") from error
    if not isinstance(migrated, dict):
        raise PluginError(f"migrate_config of plugin {info.id!r} returned "
                          f"{type(migrated).__name__}; it must return the new config (a dict)")
    return migrated


def migrate_record(manager: ConfigManager, record: dict) -> dict | None:
    """Migrate one stored record if it is outdated and its plugin has migrate_config:
    the new stored version (validated like any update), else None."""
    info = _needs_migration(manager, record)
    function = migration(manager, info.id) if info is not None else None
    if info is None or function is None:
        return None
    migrated = _call(function, info, record)
    old_version = record.get("plugin_version")
    return manager.update_plugin_config(
        info.id, record["pipeline"], migrated, AUTHOR,
        comment=f"migrated from {old_version} to {info.version}",
        migrated_from=old_version)


def migrated_configs(manager: ConfigManager, records: list[dict]) -> dict[str, dict]:
    """{plugin: stored config} of these records, outdated ones migrated first."""
    configs = {}
    for record in records:
        new = migrate_record(manager, record)
        configs[record["plugin"]] = (new or record).get("config") or {}
    return configs


def migrate_plugin(manager: ConfigManager, plugin_id: str,
                   pipeline: str | None = None) -> list[dict]:
    """`dataflow config migrate`: every outdated stored config of the plugin (in one
    pipeline, or all), migrated; returns the new versions. Refuses a plugin with outdated
    configs but no migrate_config."""
    info = manager.registry.get(plugin_id)
    if pipeline is not None:
        manager.pipeline(pipeline)
    records = [record for record in stored.stored_records(manager.db, pipeline, plugin_id)
               if _needs_migration(manager, record)]
    if records and migration(manager, plugin_id) is None:
        saved = ", ".join(sorted({str(r.get("plugin_version")) for r in records}))
        raise PluginError(
            f"plugin {plugin_id!r} {info.version} has stored config saved under {saved} but "
            f"defines no migrate_config(old_config, old_version); add one to "
            f"{manager.registry.where.get(plugin_id, plugin_id)}, or store a config for "
            f"{info.version} with `dataflow config set {plugin_id} --pipeline P ...`")
    migrated = []
    for record in records:
        new = migrate_record(manager, record)
        if new is not None:
            migrated.append({**new, "migrated_from": record.get("plugin_version")})
    return migrated


def outdated_records(manager: ConfigManager) -> list[tuple[dict, PluginInfo, bool]]:
    """(record, plugin, has migrate_config) of every stored config saved under an older
    major VERSION of a loaded plugin: what `dataflow validate` flags."""
    found = []
    for record in stored.stored_records(manager.db):
        info = _needs_migration(manager, record)
        if info is not None:
            found.append((record, info, migration(manager, info.id) is not None))
    return found


def outdated_config_problems(manager: ConfigManager) -> list[Problem]:
    """What `dataflow validate` says of each stored config saved under an older major
    VERSION: where, what, and the fix (migrate, or store a config for the new version)."""
    problems = []
    for record, info, can_migrate in outdated_records(manager):
        pipeline = record["pipeline"]
        if can_migrate:
            fix = (f"run `dataflow config migrate {info.id} --pipeline {pipeline}`, or the "
                   "plugin's migrate_config will be applied when the config is next loaded")
        else:
            fix = (f"check it still fits {info.version} and store it again with `dataflow "
                   f"config set {info.id} --pipeline {pipeline} ...` (the plugin has no "
                   "migrate_config)")
        problems.append(Problem(
            "stored config", f"{info.id}:{pipeline}",
            f"stored config of plugin {info.id!r} for pipeline {pipeline!r} (version "
            f"{record.get('version')}) was saved under {record.get('plugin_version')}; the "
            f"plugin is {info.version} now", fix, warning=True))
    return problems
