"""`dataflow db status|migrate` through the real CLI against the real store: schema version,
pending migrations, collections and counts, credentials never shown, the embedded server."""
from __future__ import annotations

import json

import pymongo
import pytest

from dataflow import Project
from dataflow.store.embedded import stop_embedded_server
from dataflow.store.schema import SCHEMA_VERSION

PIPELINES = """
pipelines:
  p:
    hooks: ["first"]
"""


@pytest.fixture
def project(make_project):
    return make_project(PIPELINES)


@pytest.fixture
def db(store_env):
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])
    yield client[store_env["DATAFLOW_MONGO_DB"]]
    client.close()


def without_credentials(uri: str) -> str:
    """The URI as dataflow shows it ($DATAFLOW_TEST_MONGO_URI may hold a user and password)."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.split('@', 1)[-1]}"


def status(cli, project, **env) -> dict:
    result = cli("db", "status", "--json", project=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_a_fresh_store_shows_its_pending_migration_and_migrate_applies_it(cli, project, db,
                                                                          store_env):
    before = status(cli, project)
    assert (before["version"], before["latest"]) == (0, SCHEMA_VERSION)
    assert [m["version"] for m in before["pending"]] == list(range(1, SCHEMA_VERSION + 1))
    assert before["pending"][0]["title"].startswith("Create the indexes")
    assert before["collections"] == {} and before["embedded"] is False
    assert before["uri"] == without_credentials(store_env["DATAFLOW_MONGO_URI"])
    assert before["database"] == store_env["DATAFLOW_MONGO_DB"]
    text = cli("db", "status", project=project).stdout
    numbers = ", ".join(str(v) for v in range(1, SCHEMA_VERSION + 1))
    assert f"pending migrations: {numbers}; apply them with `dataflow db migrate`" in text
    assert "(external server)" in text and "collections: none yet" in text
    migrated = cli("db", "migrate", project=project)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied migration 1: Create the indexes" in migrated.stdout
    assert f"store schema is at version {SCHEMA_VERSION}" in migrated.stdout
    assert any(index["key"] == {"started": -1} for index in db["runs"].list_indexes())
    after = status(cli, project)
    assert (after["version"], after["pending"]) == (SCHEMA_VERSION, [])
    assert after["migrated_at"] and "runs" in after["collections"]
    again = cli("db", "migrate", project=project)
    assert again.returncode == 0 and "up to date, nothing to migrate" in again.stdout


def test_status_counts_the_documents_of_each_collection(cli, project, db):
    db["runs"].insert_many([{"_id": f"r{i}", "status": "completed"} for i in range(3)])
    db["logs"].insert_one({"run_id": "r0", "seq": 1})
    counts = status(cli, project)["collections"]
    assert (counts["runs"], counts["logs"]) == (3, 1)
    text = cli("db", "status", project=project).stdout
    rows = {line.split("│")[0].strip(): line.split("│")[1].strip()
            for line in text.splitlines() if "│" in line}
    assert (rows["runs"], rows["logs"]) == ("3", "1")


def test_a_store_newer_than_this_dataflow_is_said_so(cli, project, db):
    db["meta"].insert_one({"_id": "schema", "version": SCHEMA_VERSION + 5})
    text = cli("db", "status", project=project).stdout
    assert f"version {SCHEMA_VERSION + 5}, newer than this dataflow knows" in text
    result = cli("db", "migrate", project=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "upgrade dataflow" in result.stderr


def test_credentials_in_the_store_uri_are_never_printed(cli, project, mongo_uri):
    bare = without_credentials(mongo_uri)
    with_password = bare.replace("://", "://alice:s3cret@", 1)
    result = cli("db", "status", project=project, env={"DATAFLOW_MONGO_URI": with_password})
    assert result.returncode == 5, result.stdout + result.stderr
    assert "cannot reach MongoDB at " + bare.split("?")[0] in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "alice" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_global_config_hides_secrets(project, store_env, monkeypatch):
    monkeypatch.setenv("DATAFLOW_MONGO_URI", "mongodb://alice:s3cret@db.example:27017/?tls=true")
    monkeypatch.setenv("DATAFLOW_SLACK_WEBHOOK", "https://hooks.slack.example/T000/SECRET")
    values = Project(project).config.get_global_config()
    assert values["store_uri"] == "mongodb://db.example:27017/?tls=true"
    assert values["slack_webhook_url"] == "***" and values["ui_token"] is None
    assert "s3cret" not in json.dumps(values, default=str)


def test_the_embedded_store_is_reported_as_such(cli, project):
    state = project / ".dataflow"
    try:
        found = status(cli, project, DATAFLOW_MONGO_URI="")
        assert found["embedded"] is True and found["uri"].startswith("mongodb://127.0.0.1:")
        text = cli("db", "status", project=project, env={"DATAFLOW_MONGO_URI": ""}).stdout
        assert f"store     {found['uri']} (embedded server under .dataflow/)" in text
    finally:
        stop_embedded_server(state)
