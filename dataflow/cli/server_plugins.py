"""What the running `dataflow serve` of the project serves, for `dataflow plugins`: a
plugin whose file is broken now may still be served there in its last good version.

One GET of /api/plugins with a short timeout; no server, or one that does not answer
in time, is silently skipped (the listing is what this process reads either way)."""
from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from rich.markup import escape

from dataflow.cli.common import console
from dataflow.web.discovery import ServerInfo, find_server

TIMEOUT = 2.0       # seconds; `dataflow plugins` must stay quick


def served_plugins(project_dir: Path) -> tuple[ServerInfo | None, list[dict]]:
    """(the server, its /api/plugins list), or (None, []) when none answers."""
    server = find_server(project_dir)
    if server is None:
        return None, []
    token = os.environ.get("DATAFLOW_ADMIN_TOKEN")
    request = urllib.request.Request(f"{server.url}/api/plugins", headers={
        "Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    try:       # lighter than requests: `dataflow plugins` starts fast
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            plugins = json.loads(response.read()).get("plugins")
    except (OSError, ValueError, AttributeError):     # URLError, timeouts: OSError
        return None, []
    return server, [p for p in plugins or [] if isinstance(p, dict)]


def last_good(served: list[dict]) -> list[dict]:
    """The served plugins whose current file fails: the server keeps the last good one."""
    return [plugin for plugin in served if plugin.get("serving_last_good")]


def print_served_last_good(project_dir: Path) -> list[dict]:
    """A line per plugin the server serves in its last good version; returns them."""
    server, served = served_plugins(project_dir)
    stale = last_good(served)
    for plugin in stale:
        errors = plugin.get("load_errors") or [{}]
        why = str(errors[0].get("message", "")).split("; serving the last good")[0]
        console.print(f"[yellow]![/] {escape(str(plugin.get('id')))}: the server at "
                      f"{escape(server.url if server else '?')} is still serving its last good "
                      f"version (source {str(plugin['serving_last_good'])[:12]}); its file "
                      f"fails to load now: {escape(why)}", soft_wrap=True)
    return stale
