"""Command plugins (spec 001): plugins declared in config/commands.yaml that run a shell
command, built into PluginInfo entries of the registry.

Their spec travels to the worker as the task's config (its CONFIG_SCHEMA pins command,
cwd, checks and exit-code rules with `const`, so an override can change only `env` and
`timeout`); worker/command_runner.py runs it. Env layers, lowest first: system.yaml
`env:` → the pipeline's `env:` → the command's `env:` → `dataflow run --env K=V`;
`${VAR}` is interpolated on the worker (from that env, then the worker's environment).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow.config.env_secrets import WHY, env_strings, literal_secrets, secret_fix
from dataflow.config.pipelines import NAME_PATTERN
from dataflow.config.schema_check import document_problems
from dataflow.config.yaml_file import YamlDocument, read_yaml
from dataflow.errors import InvalidInput, Problem
from dataflow.plugins.contract import PluginInfo
from dataflow.plugins.loader import PluginRef

if TYPE_CHECKING:
    from dataflow.model import RunPlan
    from dataflow.project import Project

COMMANDS_FILE = "config/commands.yaml"
RUNNER = "dataflow.worker.command_runner"
_VALUE = {"type": ["string", "number", "boolean"]}
ENV_SCHEMA = {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
              "additionalProperties": _VALUE}
_NAMES = {"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}}
CHECK = {"type": "object", "additionalProperties": False, "minProperties": 1,
         "maxProperties": 1, "properties": {"file_exists": {"type": "string", "minLength": 1},
                                            "command": {"type": "string", "minLength": 1}}}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
COMMAND_SCHEMA = {"type": "object", "additionalProperties": False,
                  "required": ["command", "hooks"], "properties": {
                      "command": {"type": "string", "minLength": 1},
                      "hooks": {**_NAMES, "minItems": 1}, "pipelines": _NAMES,
                      "tags": {"type": "array", "items": {"type": "string"}},
                      "description": {"type": "string"}, "version": {"type": "string"},
                      "fail_hard": {"type": "boolean"}, "env": ENV_SCHEMA,
                      "cwd": {"type": "string"}, "timeout": _POSITIVE,
                      "retry_on_exit_codes": {"type": "array", "items": {"type": "integer"}},
                      "max_retries": {"type": "integer", "minimum": 0},
                      "retry_delay": {"type": "number", "minimum": 0},
                      "pre_checks": {"type": "array", "items": CHECK},
                      "post_checks": {"type": "array", "items": CHECK}}}
FILE_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "commands": {"type": "object", "propertyNames": {"pattern": NAME_PATTERN},
                 "additionalProperties": COMMAND_SCHEMA}}}
PINNED = ("command", "cwd", "retry_on_exit_codes", "pre_checks", "post_checks")


def _config_schema(spec: dict) -> dict:
    pinned = {key: {"const": spec[key], "default": spec[key]} for key in PINNED}
    return {"type": "object", "additionalProperties": False, "properties": {
        **pinned, "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0,
                              "default": spec["timeout"]},
        "env": {"type": "object", "additionalProperties": {"type": "string"},
                "default": spec["env"]}}}


def _info(name: str, body: dict) -> PluginInfo:
    spec = {"command": body["command"], "cwd": body.get("cwd", "."),
            "timeout": body.get("timeout"), "env": env_strings(body.get("env")),
            "retry_on_exit_codes": list(body.get("retry_on_exit_codes") or []),
            "pre_checks": body.get("pre_checks") or [], "post_checks": body.get("post_checks") or []}
    digest = hashlib.sha256(json.dumps([name, body], sort_keys=True, default=str).encode())
    retry = ({"max_retries": body.get("max_retries", 2), "delay": body.get("retry_delay", 1),
              "retry_on": ["ChildProcessError"]} if spec["retry_on_exit_codes"] else {})
    return PluginInfo(
        id=name, ref=PluginRef(name, RUNNER, None, digest.hexdigest()[:16]),
        origin=f"command in {COMMANDS_FILE}", hooks=tuple(body["hooks"]),
        pipelines=tuple(body.get("pipelines") or ["*"]), tags=tuple(body.get("tags") or ()),
        version=str(body.get("version", "0.0.0")), fail_hard=bool(body.get("fail_hard")),
        config_schema=_config_schema(spec), retry=retry,
        description=body.get("description") or f"runs: {body['command']}")


def _secret_problems(document: YamlDocument, name: str, body: dict) -> list[Problem]:
    return [document.problem(("commands", name, "env", key), f"env key {key!r} {WHY}",
                             secret_fix(key))
            for key in literal_secrets(body.get("env") or {})]


def read_commands(project_dir: Path, taken: dict[str, str]) -> tuple[dict[str, PluginInfo],
                                                                      list[Problem]]:
    """The command plugins of config/commands.yaml (none when it is absent) and their
    problems; `taken` maps the ids already used to where they come from."""
    document, problems = read_yaml(Path(project_dir) / COMMANDS_FILE, COMMANDS_FILE)
    problems = problems or document_problems(document, FILE_SCHEMA)
    if problems:
        return {}, problems
    found: dict[str, PluginInfo] = {}
    for name, body in (document.data.get("commands") or {}).items():
        secret = _secret_problems(document, name, body)
        if name in taken:
            secret.append(document.problem(("commands", name), f"command plugin {name!r} has "
                                           f"the PLUGIN_NAME of {taken[name]}",
                                           "give each plugin a unique name"))
        problems += secret
        if not secret:
            found[name] = _info(name, body)
    return found, problems


def is_command(ref: PluginRef) -> bool:
    return ref.path is None and ref.module == RUNNER


def command_config(project: Project, pipeline: str, info: PluginInfo, config: dict) -> dict:
    """A command plugin's config with the env layered: system.yaml, the pipeline, its own."""
    if not is_command(info.ref):
        return config
    definition = project.pipelines.get(pipeline)
    layers = (project._settings_read[1].data.get("env"),
              getattr(definition, "env", None), config.get("env"))
    return {**config, "env": {k: v for layer in layers for k, v in env_strings(layer).items()}}


def parse_env(assignments: tuple[str, ...]) -> dict[str, str]:
    """`--env K=V` (repeatable) → {K: V}; a secret-looking K must take a ${VAR} value."""
    env: dict[str, str] = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise InvalidInput(f"--env {text!r} is not KEY=VALUE; fix: e.g. --env OUT_DIR=/tmp/out")
        env[key] = value
    secrets = literal_secrets(env)
    if secrets:
        raise InvalidInput(f"--env {secrets[0]}=... looks secret and would be recorded with the "
                           f"run; fix: export {secrets[0]} in the environment and pass "
                           f"--env {secrets[0]}='${{{secrets[0]}}}', or set it in system.yaml "
                           "`env:` as a ${VAR} reference")
    return env


def env_overrides(plan: RunPlan, env: dict[str, str]) -> dict[str, dict]:
    """Overrides putting `env` on top of every command plugin of the plan."""
    if not env:
        return {}
    chosen = {task.plugin: {"env": dict(env)} for task in plan.tasks if is_command(task.ref)}
    if not chosen:
        raise InvalidInput(f"--env applies to command plugins ({COMMANDS_FILE}); pipeline "
                           f"{plan.pipeline!r} runs none; fix: drop --env")
    return chosen
