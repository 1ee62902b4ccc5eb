"""docs/plugins.md, "Writing a plugin for a new pipeline", run as written.

The blocks marked `<!-- walkthrough: NAME -->` (the `flags` pipeline and the `rsi_flags`
plugin) go into a throwaway project holding a copy of the shipped plugins; then the
commands of the walkthrough must do what its text says they do."""
from __future__ import annotations

import ast
import json
import re

import pandas as pd
import pymongo
import pytest
import yaml
from conftest import REPO, ok

DOC = REPO / "docs" / "plugins.md"
SECTION = "## Writing a plugin for a new pipeline"
MARKED_BLOCK = re.compile(
    r"<!-- walkthrough: (?P<name>\S+) -->[ \t]*\n```[\w.+-]*\n(?P<body>.*?)\n```", re.S)
PIPELINES_BLOCK = "pipelines.yaml"
PLUGIN_BLOCK = "plugins/rsi_flags/__init__.py"
FLAGS_PLUGINS = ["stock_loader", "ohlcv_aggregator", "technical_indicators", "rsi_flags"]
FLAG_COLUMNS = ["date", "ticker", "close", "rsi", "signal"]


def walkthrough_blocks() -> dict[str, str]:
    """{name: code} of the marked fenced blocks in the walkthrough section."""
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks: dict[str, str] = {}
    for match in MARKED_BLOCK.finditer(section):
        assert match["name"] not in blocks, f"two walkthrough blocks named {match['name']}"
        blocks[match["name"]] = match["body"] + "\n"
    assert {PIPELINES_BLOCK, PLUGIN_BLOCK} <= set(blocks), sorted(blocks)
    return blocks


def pipelines_with_walkthrough(block: str) -> str:
    """The shipped config/pipelines.yaml with the walkthrough's pipelines added to it."""
    shipped = yaml.safe_load((REPO / "config" / "pipelines.yaml").read_text(encoding="utf-8"))
    shipped["pipelines"].update(yaml.safe_load(block)["pipelines"])
    return yaml.safe_dump(shipped, sort_keys=False)


def constants(code: str) -> dict:
    """The plugin's top-level constants that are plain literals."""
    found = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


@pytest.mark.fast
def test_the_walkthrough_blocks_say_what_the_text_says():
    blocks = walkthrough_blocks()
    flags = yaml.safe_load(blocks[PIPELINES_BLOCK])["pipelines"]["flags"]
    assert flags["hooks"] == {"fetch_data": ["stock_loader"], "aggregate": ["ohlcv_aggregator"],
                              "calculate_indicators": ["technical_indicators"],
                              "flag": ["rsi_flags"]}
    plugin = constants(blocks[PLUGIN_BLOCK])
    assert (plugin["PLUGIN_NAME"], plugin["HOOKS"]) == ("rsi_flags", ["flag"])
    thresholds = plugin["CONFIG_SCHEMA"]["properties"]
    assert (thresholds["upper"]["default"], thresholds["lower"]["default"]) == (70, 30)
    assert plugin["COLUMNS"] == FLAG_COLUMNS


@pytest.fixture
def flags_project(make_project):
    """A project: the shipped plugins and pipelines, plus the walkthrough's."""
    blocks = walkthrough_blocks()
    return make_project(pipelines_with_walkthrough(blocks[PIPELINES_BLOCK]),
                        plugins={"rsi_flags": blocks[PLUGIN_BLOCK]},
                        copy_default_plugins=True)


def planned_plugins(plan: dict) -> list[str]:
    return [plugin["id"] for hook in plan["hooks"] for plugin in hook["plugins"]]


def check_plan(cli, project) -> None:
    """validate, plugins --pipeline flags and the dry runs agree with the walkthrough."""
    assert "is valid" in ok(cli("validate", project=project)).stdout
    listed = json.loads(ok(cli("plugins", "--pipeline", "flags", "--json",
                               project=project)).stdout)
    plan = json.loads(ok(cli("run", "flags", "--dry-run", "--json", project=project)).stdout)
    assert [hook["hook"] for hook in plan["hooks"]] == [
        "fetch_data", "aggregate", "calculate_indicators", "flag"]
    assert planned_plugins(plan) == FLAGS_PLUGINS
    assert sorted(plugin["id"] for plugin in listed) == sorted(planned_plugins(plan))
    assert plan["hooks"][-1]["plugins"][0]["config"] == {"upper": 70, "lower": 30}
    raised = json.loads(ok(cli("run", "flags", "--dry-run", "--json", "--set",
                               "rsi_flags.upper=75", project=project)).stdout)
    assert raised["hooks"][-1]["plugins"][0]["config"] == {"upper": 75, "lower": 30}


def check_flags(flags: pd.DataFrame, upper: float, lower: float) -> None:
    """Only days beyond a threshold, each with the right signal."""
    assert not flags.empty
    assert list(flags.columns) == FLAG_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(flags["date"])
    overbought = flags["signal"] == "overbought"
    assert (flags.loc[overbought, "rsi"] > upper).all()
    assert (flags.loc[~overbought, "rsi"] < lower).all()
    assert set(flags["signal"]) == {"overbought", "oversold"}


def test_the_walkthrough_runs_as_documented(cli, store_env, flags_project, tmp_path):
    project = flags_project
    check_plan(cli, project)
    run = json.loads(ok(cli("run", "flags", "--json", project=project)).stdout)
    assert run["status"] == "completed", run
    assert run["tasks"]["flag.rsi_flags"]["status"] == "completed"
    target = tmp_path / "x.parquet"
    ok(cli("output", run["run_id"], "rsi_flags", "--to", target, project=project))
    flags = pd.read_parquet(target)
    check_flags(flags, upper=70, lower=30)
    data_db = f"{store_env['DATAFLOW_MONGO_DB']}_data"
    assert f"plugins' data: {data_db}" in ok(cli("db", "status", project=project)).stdout
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"])
    try:
        stored = list(client[data_db]["rsi_flags"].find({}, {"_id": 0}))
    finally:
        client.close()
    assert len(stored) == len(flags)
    assert set(stored[0]) == set(FLAG_COLUMNS)


def test_a_set_threshold_changes_the_flags(cli, flags_project, tmp_path):
    run = json.loads(ok(cli("run", "flags", "--json", "--set", "rsi_flags.upper=75",
                            project=flags_project)).stdout)
    assert run["status"] == "completed", run
    target = tmp_path / "raised.parquet"
    ok(cli("output", run["run_id"], "rsi_flags", "--to", target, project=flags_project))
    check_flags(pd.read_parquet(target), upper=75, lower=30)
