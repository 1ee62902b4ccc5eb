"""Secrets in `env:` mappings (spec 001): a secret-looking key — TOKEN, SECRET, PASSWORD,
KEY, WEBHOOK, CREDENTIAL — must take a `${VAR}` reference, never a literal, which would be
recorded with every run's config. One check for every place an `env:` is written:
config/commands.yaml (plugins/command_plugin.py), system.yaml and a pipeline's `env:`
(here, through Project.file_problems, so `validate` and every run refuse them), stored
pipelines (config/stored_pipelines.py) and `dataflow run --env`."""
from __future__ import annotations

import json
import re
from typing import Any

from dataflow.config.yaml_file import YamlDocument
from dataflow.errors import Problem

SECRET_KEY = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|WEBHOOK|CREDENTIAL", re.I)
REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
WHY = "looks secret but has a literal value, which would be recorded with every run's config"


def looks_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def env_strings(env: Any) -> dict[str, str]:
    """An `env:` mapping as strings (YAML numbers and booleans as written: 1, true)."""
    if not isinstance(env, dict):
        return {}
    return {str(k): (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in env.items()}


def literal_secrets(env: Any) -> list[str]:
    """Keys that look secret but hold a literal instead of a `${VAR}` reference."""
    return [key for key, value in env_strings(env).items()
            if looks_secret(key) and not REFERENCE.match(value)]


def secret_fix(key: str) -> str:
    return f"write it as ${{{key}}} and set {key} in the environment dataflow runs in"


def env_problems(document: YamlDocument, key_path: tuple, env: Any) -> list[Problem]:
    """The literal secrets of the `env:` at `key_path` of `document`, each a Problem."""
    return [document.problem((*key_path, key), f"env key {key!r} {WHY}", secret_fix(key))
            for key in literal_secrets(env)]


def file_env_problems(settings: YamlDocument, pipelines: YamlDocument) -> list[Problem]:
    """Literal secrets in system.yaml's `env:` and in every pipeline's `env:`."""
    problems = env_problems(settings, ("env",), settings.data.get("env"))
    declared = pipelines.data.get("pipelines")
    for name, body in (declared.items() if isinstance(declared, dict) else ()):
        if isinstance(body, dict):
            problems += env_problems(pipelines, ("pipelines", name, "env"), body.get("env"))
    return problems


def stored_env_errors(env: Any) -> list[dict]:
    """Field errors (as stored pipelines report them) for literal secrets in a stored `env`."""
    return [{"field": f"env.{key}", "message": f"{key!r} {WHY}; fix: {secret_fix(key)}"}
            for key in literal_secrets(env)]
