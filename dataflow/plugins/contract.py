"""What dataflow knows about one plugin, read from its module per the plugin contract."""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

from jsonschema import Draft202012Validator, SchemaError

from dataflow.errors import Problem
from dataflow.plugins.loader import PluginRef
from dataflow.config.pipelines import NAME_PATTERN
from dataflow.config.schema_check import config_field_errors
from dataflow.config.settings import PRIORITIES, RETRY_SCHEMA
from dataflow.plugins.output_schema import schema_problem as output_schema_problem

OPTIONAL_CALLABLES = ("cancel", "on_load", "on_shutdown", "get_metadata", "get_config_ui",
                      "snapshot", "rollback")     # snapshot/rollback: worker/undo.py
DECLARED = ("PLUGIN_NAME", "HOOKS", "PIPELINES")
_ASSIGNMENT = re.compile(r"^(PLUGIN_NAME|HOOKS|PIPELINES)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin's metadata (spec 000) and where it comes from."""

    id: str
    ref: PluginRef
    origin: str                               # "folder plugins/x" or "entry point pkg"
    hooks: tuple[str, ...]
    pipelines: tuple[str, ...]
    tags: tuple[str, ...] = ()
    version: str = "0.0.0"
    fail_hard: bool = False
    config_schema: dict = field(default_factory=dict, compare=False)
    output_schema: dict | None = field(default=None, compare=False)
    priority: str | None = None
    deadline: float | None = None
    retry: dict = field(default_factory=dict, compare=False)
    cache_ttl: float | None = None
    description: str = ""
    gates: tuple[str, ...] = ()               # GATES: named gates that must be open
    writes: tuple[str, ...] = ()              # WRITES: collections journaled for rollback

    def runs_in(self, pipeline: str) -> bool:
        return "*" in self.pipelines or pipeline in self.pipelines

    def summary(self) -> dict:
        return {"id": self.id, "version": self.version, "hooks": list(self.hooks),
                "pipelines": list(self.pipelines), "tags": list(self.tags),
                "fail_hard": self.fail_hard, "origin": self.origin,
                "source_hash": self.ref.source_hash, "description": self.description}


def _names(module, attribute: str, default) -> tuple[tuple[str, ...], str | None]:
    value = getattr(module, attribute, default)
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(item, str) for item in value):
        return (), f"{attribute} must be a list of strings, got {value!r}"
    return tuple(value), None


def _schema_problem(module, attribute: str) -> str | None:
    schema = getattr(module, attribute, None)
    if schema is None:
        return None
    if not isinstance(schema, dict):
        return f"{attribute} must be a JSON Schema dict, got {type(schema).__name__}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return f"{attribute} is not a valid JSON Schema: {error.message}"
    return None


def _is_positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _stream_errors(module) -> list[str]:
    """STREAM = True needs run_chunk(context, config, chunk); CHECKPOINT_ROWS: rows > 0."""
    errors = []
    stream, rows = getattr(module, "STREAM", False), getattr(module, "CHECKPOINT_ROWS", None)
    if not isinstance(stream, bool):
        errors.append(f"STREAM must be True or False, got {stream!r}")
    elif stream and not callable(getattr(module, "run_chunk", None)):
        errors.append("STREAM = True needs run_chunk(context, config, chunk) (see "
                      "\"Streaming data bigger than memory\" in docs/plugins.md)")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 1):
        errors.append(f"CHECKPOINT_ROWS must be a positive integer (rows), got {rows!r}")
    return errors


def _optional_constant_errors(module) -> list[str]:
    """CACHE, DEADLINE, PRIORITY and RETRY, when a plugin sets them."""
    errors = []
    cache = getattr(module, "CACHE", None)
    if cache is not None and not (isinstance(cache, dict) and _is_positive_number(cache.get("ttl"))):
        errors.append(f"CACHE must be a dict with a positive 'ttl' in seconds, got {cache!r}")
    deadline = getattr(module, "DEADLINE", None)
    if deadline is not None and not _is_positive_number(deadline):
        errors.append(f"DEADLINE must be a positive number of seconds, got {deadline!r}")
    priority = getattr(module, "PRIORITY", None)
    if priority is not None and priority not in PRIORITIES:
        errors.append(f"PRIORITY must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    errors += _stream_errors(module)
    retry = getattr(module, "RETRY", None)
    if retry is not None and not isinstance(retry, dict):
        errors.append(f"RETRY must be a dict (max_retries, delay, ...), got {retry!r}")
    elif retry is not None:
        errors += [f"RETRY.{e['field']}: {e['message']}"
                   for e in config_field_errors(retry, RETRY_SCHEMA)]
    return errors


def _contract_errors(module, plugin_id) -> list[str]:
    errors: list[str | None] = []
    if not isinstance(plugin_id, str) or not plugin_id:
        errors.append("PLUGIN_NAME must be a non-empty string")
    elif not re.match(NAME_PATTERN, plugin_id):
        errors.append(f"PLUGIN_NAME {plugin_id!r} may only use letters, digits, '_', '.' "
                      "and '-', and must not start with '.' or '-' (like a pipeline name); "
                      "rename it, e.g. to its folder's name")
    if not callable(getattr(module, "run", None)) and not getattr(module, "STREAM", False):
        errors.append("run(context, config) is missing or not callable")
    for name in OPTIONAL_CALLABLES:
        if hasattr(module, name) and not callable(getattr(module, name)):
            errors.append(f"{name} must be a function")
    errors.append(_schema_problem(module, "CONFIG_SCHEMA"))
    if getattr(module, "OUTPUT_SCHEMA", None) is not None:
        errors.append(output_schema_problem(module.OUTPUT_SCHEMA))
    return [error for error in errors if error] + _optional_constant_errors(module)


def read_plugin(module: ModuleType, ref: PluginRef, origin: str,
                where: str) -> tuple[PluginInfo | None, list[Problem]]:
    """PluginInfo for a module, or the Problems that keep it from being one."""
    plugin_id = getattr(module, "PLUGIN_NAME", None)
    errors = _contract_errors(module, plugin_id)
    hooks, hooks_error = _names(module, "HOOKS", None)
    pipelines, pipelines_error = _names(module, "PIPELINES", ["*"])
    tags, tags_error = _names(module, "TAGS", [])
    gates, gates_error = _names(module, "GATES", [])
    writes, writes_error = _names(module, "WRITES", [])
    errors += [e for e in (hooks_error, pipelines_error, tags_error, gates_error,
                           writes_error) if e]
    if errors or not isinstance(plugin_id, str):
        return None, [Problem(where, str(plugin_id or ""), error,
                              "follow the plugin contract (docs/plugins.md)") for error in errors]
    info = PluginInfo(
        id=plugin_id, ref=replace(ref, plugin_id=plugin_id),
        origin=origin, hooks=hooks, pipelines=pipelines, tags=tags, gates=gates,
        writes=writes,
        version=str(getattr(module, "VERSION", "0.0.0")),
        fail_hard=bool(getattr(module, "FAIL_HARD", False)),
        config_schema=getattr(module, "CONFIG_SCHEMA", None) or {},
        output_schema=getattr(module, "OUTPUT_SCHEMA", None),
        priority=getattr(module, "PRIORITY", None),
        deadline=getattr(module, "DEADLINE", None),
        retry=getattr(module, "RETRY", None) or {},
        cache_ttl=(getattr(module, "CACHE", None) or {}).get("ttl"),
        description=(module.__doc__ or "").strip().split("\n")[0])
    return info, []


def _call_for_ui(module, name: str):
    """(value, None) from the plugin's optional `name()`, or (None, error message)."""
    try:
        return getattr(module, name)(), None
    except Exception as error:           # a plugin's bug is shown, never raised
        return None, f"{name}() raised {type(error).__name__}: {error}"


def _json_problem(name: str, value) -> str | None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        return f"{name}() must return JSON data: {error}"
    return None


def plugin_metadata(module) -> dict:
    """{"metadata": get_metadata()} ({} without one), or metadata None and the error."""
    if not callable(getattr(module, "get_metadata", None)):
        return {"metadata": {}}
    value, error = _call_for_ui(module, "get_metadata")
    if error is None and not isinstance(value, dict):
        error = f"get_metadata() must return a dict, got {type(value).__name__}"
    error = error or _json_problem("get_metadata", value)
    return {"metadata": None, "metadata_error": error} if error else {"metadata": value}


def _config_ui_value(value) -> tuple[dict | None, str | None]:
    if isinstance(value, str):
        return {"kind": "html", "html": value}, None
    if not isinstance(value, dict):
        return None, ("get_config_ui() must return an HTML string or a JSON Schema dict, "
                      f"got {type(value).__name__}")
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as error:
        return None, f"get_config_ui() returned an invalid JSON Schema: {error.message}"
    return {"kind": "schema", "schema": value}, _json_problem("get_config_ui", value)


def plugin_config_ui(module, config_schema: dict) -> dict:
    """{"config_ui": {"kind": "html", "html"} | {"kind": "schema", "schema"}}: the form
    get_config_ui() gives, else one from CONFIG_SCHEMA (also when get_config_ui() fails,
    with the reason under "config_ui_error")."""
    default = {"kind": "schema", "schema": config_schema}
    if not callable(getattr(module, "get_config_ui", None)):
        return {"config_ui": default}
    value, error = _call_for_ui(module, "get_config_ui")
    form, error = (None, error) if error else _config_ui_value(value)
    if error:
        return {"config_ui": default, "config_ui_error": error}
    return {"config_ui": form}


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def declared_constants(init_file: Path) -> dict:
    """PLUGIN_NAME, HOOKS and PIPELINES of a plugin that cannot be imported, read from its
    source without running it: the literal ones only (one-line assignments when the file
    does not even parse). PIPELINES absent means every pipeline, as for a loaded plugin."""
    try:
        text = init_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    try:
        pairs = [(target.id, ast.get_source_segment(text, node.value) or "")
                 for node in ast.parse(text).body if isinstance(node, ast.Assign)
                 for target in node.targets[:1] if isinstance(target, ast.Name)]
    except (SyntaxError, ValueError):
        pairs = _ASSIGNMENT.findall(text)
    found = {name: _literal(value) for name, value in pairs if name in DECLARED}
    found.setdefault("PIPELINES", ["*"])
    return {name: value for name, value in found.items() if value is not None}
