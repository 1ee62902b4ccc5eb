"""A command plugin's environment on the worker: `${VAR}` interpolation over the layered
env (then the worker's own environment), and the redaction of secret values in anything
logged (keys that look like TOKEN, SECRET, PASSWORD, KEY, WEBHOOK, CREDENTIAL)."""
from __future__ import annotations

import os
import re

from dataflow.errors import PluginFailed
from dataflow.config.env_secrets import looks_secret

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"
MIN_SECRET = 4          # shorter values are not searched for in log lines


def _resolve(name: str, templates: dict[str, str], base: dict[str, str],
             resolving: tuple[str, ...]) -> str:
    if name in templates and name not in resolving:
        return interpolate(templates[name], templates, base, (*resolving, name))
    if name in base:        # ${HOME}, or API_TOKEN: ${API_TOKEN} from the environment
        return base[name]
    if name in resolving:
        raise PluginFailed(f"env {name} refers to itself through "
                           f"{' → '.join((*resolving, name))}; fix the ${{...}} references")
    where = f"env {resolving[-1]}" if resolving else "the command"
    raise PluginFailed(f"${{{name}}} in {where} is not set: define {name} under `env:` "
                       "(system.yaml, the pipeline, the command) or in the environment "
                       "dataflow runs in, or pass --env " + f"{name}=VALUE")


def interpolate(text: str, templates: dict[str, str], base: dict[str, str] | None = None,
                resolving: tuple[str, ...] = ()) -> str:
    """`text` with each ${VAR} replaced: from `templates` (themselves interpolated), else
    from `base` (the worker's environment)."""
    base = dict(os.environ) if base is None else base
    return VARIABLE.sub(lambda m: _resolve(m.group(1), templates, base, resolving), text)


def resolved_env(templates: dict[str, str]) -> dict[str, str]:
    """The layered env with every value interpolated (without the worker's environment)."""
    base = dict(os.environ)
    return {key: interpolate(value, templates, base, (key,)) for key, value in templates.items()}


def secret_values(env: dict[str, str]) -> list[str]:
    """The values of secret-looking keys, longest first (so that none is half-masked)."""
    return sorted({value for key, value in env.items()
                   if looks_secret(key) and len(value) >= MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def shown_env(env: dict[str, str], secrets: list[str]) -> dict[str, str]:
    """The env as it may be logged: secret-looking keys masked, secrets masked elsewhere."""
    return {key: MASK if looks_secret(key) else redact(value, secrets)
            for key, value in env.items()}
