"""`dataflow plugins` with `dataflow serve` running for the project: a plugin whose file is
broken now is noted as still served in its last good version by the server (one GET of
/api/plugins); a server that does not answer is skipped quickly and silently."""
from __future__ import annotations

import os
import time

import pytest
from conftest import free_port, plugin_source, run_cli
from web_fixtures import serve

from dataflow.web.discovery import ServerInfo, write_server_info

NOTE = "is still serving its last good version"


@pytest.fixture(scope="module")
def served(tmp_path_factory, mongo_uri, dask_client):
    yield from serve(tmp_path_factory, mongo_uri, dask_client, "127.0.0.1")


def test_plugins_notes_the_version_a_server_still_serves(served):
    directory = served.project.directory
    listed = served.get("/api/plugins").json()["plugins"]
    quick = next(p for p in listed if p["id"] == "quick")
    assert quick["serving_last_good"] is None and quick["load_errors"] == []
    clean = run_cli("plugins", project=directory)
    assert clean.returncode == 0 and NOTE not in clean.stdout, clean.stdout + clean.stderr
    good = quick["source_hash"]
    source = directory / "plugins" / "quick" / "__init__.py"
    source.write_text(plugin_source("quick", "load", body="return 42 +"))   # a syntax error
    reloaded = served.post("/api/plugins/quick/reload")
    assert reloaded.json()["serving_last_good"] == good, reloaded.text
    shown = run_cli("plugins", project=directory)
    assert shown.returncode == 1 and "Traceback" not in shown.stdout + shown.stderr
    text = " ".join(shown.stdout.split())        # unwrapped
    assert f"quick: the server at {served.url} {NOTE} (source {good[:12]})" in text, text
    assert "SyntaxError" in text and "broken" in text


def test_a_server_that_does_not_answer_is_skipped(make_project):
    directory = make_project("pipelines:\n  p: {hooks: [load]}\n", {
        "one": plugin_source("one", "load", body="return 1")})
    port = free_port()          # nothing listens there; the recorded pid (ours) is alive
    write_server_info(directory, ServerInfo(os.getpid(), "127.0.0.1", port,
                                            f"http://127.0.0.1:{port}", False))
    started = time.monotonic()
    shown = run_cli("plugins", project=directory)
    assert shown.returncode == 0 and "one" in shown.stdout, shown.stdout + shown.stderr
    assert NOTE not in shown.stdout and time.monotonic() - started < 60
