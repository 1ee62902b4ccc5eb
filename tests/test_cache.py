"""Output caching as a user sees it: a plugin with CACHE is not run again for the same code,
config and inputs (its task record says `reused: cache`, its output is the same); a change
of config, input or code misses; the entry expires after its ttl; `--no-cache` runs it."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import yaml
from conftest import RUN_TIMEOUT, plugin_source, wait_until

SOURCE_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}
SUMMER_SCHEMA = {"type": "object", "properties": {"scale": {"type": "integer", "default": 1}}}
# Counts its real runs (tally); its output names the run that computed it.
SUMMER = """
tally()
return {"total": sum(context["inputs"]["source"]) * config["scale"],
        "computed_by": context["run_id"]}
"""


def write_project(make_project, out_dir, ttl, summer=None, source=None):
    """Pipeline p (load → compute), with optional config for summer and source."""
    config = {name: values for name, values in (("summer", summer), ("source", source))
              if values}
    pipelines = {"pipelines": {"p": {"hooks": ["load", "compute"], "config": config}}}
    return make_project(yaml.safe_dump(pipelines), {
        "source": plugin_source("source", "load", body='return list(range(config["n"]))',
                                CONFIG_SCHEMA=SOURCE_SCHEMA),
        "summer": plugin_source("summer", "compute", body=SUMMER, out=out_dir,
                                CACHE={"ttl": ttl}, CONFIG_SCHEMA=SUMMER_SCHEMA)})


def summer_task(engine, run_id) -> dict:
    engine.project.recorder.flush()
    return engine.project.db["tasks"].find_one({"run_id": run_id, "plugin": "summer"})


def run_once(engine):
    result = engine.run("p", timeout=RUN_TIMEOUT)
    assert result.status == "completed", result.error
    output = result.output("summer", timeout=RUN_TIMEOUT)
    return result, output, summer_task(engine, result.run_id)


def test_hit_within_the_ttl_and_miss_after_it(make_project, engine_for, out_dir):
    engine = engine_for(write_project(make_project, out_dir, ttl=2))
    first, output, task = run_once(engine)
    assert out_dir.count("summer") == 1 and task.get("reused") is None
    assert output == {"total": 3, "computed_by": first.run_id}
    entry = engine.project.db["cache"].find_one({"plugin": "summer"})
    second, again, task = run_once(engine)
    assert task["started"] < entry["expires"], "too slow a machine to test a 2 s ttl"
    assert out_dir.count("summer") == 1, "the plugin did not run again"
    assert task["reused"] == "cache" and again == output
    wait_until(lambda: datetime.now(timezone.utc) > entry["expires"], 10,
               message="the cache entry to expire")
    third, fresh, task = run_once(engine)
    assert out_dir.count("summer") == 2 and task.get("reused") is None, \
        "an expired entry is not used"
    assert fresh == {"total": 3, "computed_by": third.run_id}


def rewrite(engine, make_project, out_dir, **config) -> None:
    """Change the project's YAML (or code) and let the engine see it."""
    write_project(make_project, out_dir, ttl=60, **config)
    engine.project.reload()


def test_changed_config_input_or_code_misses(make_project, engine_for, out_dir):
    engine = engine_for(write_project(make_project, out_dir, ttl=60))
    _, original, _ = run_once(engine)
    rewrite(engine, make_project, out_dir, summer={"scale": 2})
    _, scaled, task = run_once(engine)
    assert out_dir.count("summer") == 2 and task.get("reused") is None, "a new config misses"
    assert scaled["total"] == 6
    rewrite(engine, make_project, out_dir)
    _, back, task = run_once(engine)
    assert out_dir.count("summer") == 2 and task["reused"] == "cache" and back == original, \
        "the first config's entry is still there"
    rewrite(engine, make_project, out_dir, source={"n": 5})
    _, more, task = run_once(engine)
    assert out_dir.count("summer") == 3 and task.get("reused") is None, "a new input misses"
    assert more["total"] == 10
    code = make_project.root / "plugins" / "summer" / "__init__.py"
    code.write_text(code.read_text() + "\n# a changed line of code\n")
    engine.project.reload()
    _, _, task = run_once(engine)
    assert out_dir.count("summer") == 4 and task.get("reused") is None, "changed code misses"


def test_a_cached_output_serves_other_processes_unless_no_cache(make_project, engine_for, cli,
                                                               out_dir):
    project = write_project(make_project, out_dir, ttl=60)
    engine = engine_for(project)
    first, output, _ = run_once(engine)
    cached = cli("run", "p", project=project)
    assert cached.returncode == 0, cached.stdout + cached.stderr
    assert re.search(r"summer +completed \(cached\)", cached.stdout), cached.stdout
    assert out_dir.count("summer") == 1, "`dataflow run` reused the output cached by the first run"
    forced = cli("run", "p", "--no-cache", "--json", project=project)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    task = json.loads(forced.stdout)["tasks"]["compute.summer"]
    assert out_dir.count("summer") == 2 and task["status"] == "completed" and "reused" not in task
    shown = json.loads(cli("show", json.loads(forced.stdout)["run_id"], "--json",
                           project=project).stdout)
    assert shown["use_cache"] is False
    assert [t.get("reused") for t in shown["tasks"] if t["plugin"] == "summer"] == [None]
    again = engine.run("p", timeout=RUN_TIMEOUT).output("summer", timeout=RUN_TIMEOUT)
    assert again == output, "--no-cache left the entry as it was"
    assert out_dir.count("summer") == 2
