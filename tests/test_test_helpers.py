"""The suite's own helpers, checked without a cluster: plugin_source writes plugins that
follow the contract, the out_dir helpers work on both sides (plugin and test), and the
reference indicators give the textbook values on series whose answer is known."""
from __future__ import annotations

import types

import pytest
from conftest import OutDir, plugin_source
from reference_indicators import bollinger, ema, indicators_at, macd, rsi, sma

from dataflow.plugins.contract import read_plugin
from dataflow.plugins.loader import PluginRef

pytestmark = pytest.mark.fast


def load(source: str) -> types.ModuleType:
    """The plugin module, imported here (not on a worker)."""
    module = types.ModuleType("a_test_plugin")
    exec(compile(source, "a_test_plugin.py", "exec"), module.__dict__)
    return module


def test_plugin_source_writes_a_plugin_of_the_contract():
    source = plugin_source("adder", "first", ["p", "q"], """
        total = sum(context["inputs"].values()) + config["offset"] + EXTRA
        return helper(total)""", imports=["json"], code="def helper(value):\n    return [value]",
        VERSION="1.2.3", FAIL_HARD=True, EXTRA=10,
        CONFIG_SCHEMA={"type": "object", "properties": {"offset": {"type": "integer"}}})
    module = load(source)
    assert (module.PLUGIN_NAME, module.HOOKS, module.PIPELINES) == ("adder", ["first"], ["p", "q"])
    assert module.run({"inputs": {"a": 1, "b": 2}}, {"offset": 3}) == [16]
    info, problems = read_plugin(module, PluginRef("adder", "a_test_plugin"), "test", "here")
    assert problems == [] and (info.version, info.fail_hard) == ("1.2.3", True)
    assert info.pipelines == ("p", "q") and info.runs_in("q") and not info.runs_in("r")
    assert source.index("import json") < source.index("PLUGIN_NAME") < source.index("def run")


def test_plugin_source_defaults():
    module = load(plugin_source("plain", ["a", "b"]))
    assert (module.HOOKS, module.PIPELINES, module.run({}, {})) == (["a", "b"], ["*"], None)
    assert not hasattr(load(plugin_source("x", "a", pipelines=None)), "PIPELINES")
    assert not hasattr(module, "OUT") and not hasattr(module, "mark")


def test_out_dir_helpers_from_both_sides(tmp_path):
    out_dir = OutDir(tmp_path / "out")
    plugin = load(plugin_source("marker", "first", out=out_dir, body="""
        mark("started", config["text"])
        return tally(context["run_id"])"""))
    assert out_dir.read("marker", "started") is None and out_dir.count("marker") == 0
    assert plugin.run({"run_id": "r1"}, {"text": "hello"}) == 1
    assert plugin.run({"run_id": "r2"}, {"text": "again"}) == 2
    assert out_dir.read("marker", "started") == "again"
    assert out_dir.read("marker", "count") == "r1\nr2\n" and out_dir.count("marker") == 2
    assert not list(out_dir.path.glob("*.tmp")), "mark() leaves no temporary file"
    with pytest.raises(TimeoutError, match="nobody made go"):
        plugin.wait_for("go", seconds=0.1)
    plugin.wait_for("go", seconds=0.1, stop=lambda: True)
    out_dir.touch("go")
    plugin.wait_for("go", seconds=0.1)
    assert not plugin.released()
    out_dir.release()
    assert plugin.released() and (out_dir / "release").exists()
    plugin.wait_for("never", seconds=0.1)


def test_reference_indicators_on_known_series():
    rising = [float(n) for n in range(1, 41)]
    assert sma(rising, 3)[:4] == [None, None, 2.0, 3.0]
    assert ema([5.0] * 30, 10)[9:] == [5.0] * 21 and ema([5.0] * 30, 10)[8] is None
    assert ema([None, None, 1.0, 2.0, 3.0], 2) == [None, None, None, 1.5, 1.5 + 2 / 3 * 1.5]
    assert ema([1.0], 5) == [None], "too short a series has no value"
    assert rsi(rising, 14)[14:] == [100.0] * 26 and rsi(rising, 14)[13] is None
    assert rsi(rising[::-1], 14)[-1] == 0.0
    line, signal, histogram = macd([7.0] * 40)
    assert line[25] == 0.0 and line[24] is None and signal[33] == 0.0 and histogram[33] == 0.0
    middle, upper, lower = bollinger([3.0] * 25)
    assert (middle[19], upper[19], lower[19], middle[18]) == (3.0, 3.0, 3.0, None)
    values = indicators_at(rising, 39)
    assert list(values) == ["close", "sma_20", "ema_20", "rsi_14", "macd", "macd_signal",
                            "macd_hist", "bb_middle", "bb_upper", "bb_lower"]
    assert values["close"] == 40.0 and values["sma_20"] == values["bb_middle"] == 30.5
    assert values["bb_upper"] - values["bb_middle"] == pytest.approx(2 * (399 / 12) ** 0.5)
