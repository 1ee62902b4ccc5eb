"""Dev tools (issue 11, item 7): `dataflow init` writes a project that `dataflow run` and
`pytest` pass at once; `dataflow plugin new` adds a plugin and its test, `dataflow plugin
test` runs it once on given inputs; the project's own tests (dataflow's pytest fixtures)
then pass. Bad names, existing plugins and non-empty folders are refused."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ok, refused, run_cli

from dataflow.cli.plugin_test_cmd import read_inputs
from dataflow.errors import AlreadyExists, InvalidInput
from dataflow.plugins.scaffold import init_project, new_plugin
from dataflow.store.embedded import stop_embedded_server

# the new project uses its own embedded store, as a user's would
CLEAN_ENV = {name: value for name, value in os.environ.items()
             if not name.startswith(("DATAFLOW_", "PYTEST_"))}


def in_project(*args, project, timeout=240):
    """`dataflow ARGS` run inside the project folder, as a user would (no --project)."""
    return subprocess.run([sys.executable, "-m", "dataflow", *map(str, args)], cwd=project,
                          env=CLEAN_ENV, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def new_project(tmp_path):
    project = tmp_path / "hello_project"
    yield project
    if (project / ".dataflow").exists():
        stop_embedded_server(project / ".dataflow")


@pytest.mark.timeout(900)
def test_init_plugin_new_and_test_make_a_project_whose_tests_pass(new_project, tmp_path):
    created = ok(run_cli("init", new_project, env=CLEAN_ENV)).stdout
    assert "tests/test_hello.py" in created and "plugins/hello_source/__init__.py" in created
    ran = ok(in_project("run", project=new_project)).stdout
    assert "completed" in ran and "report.hello_report: dict of 2 keys" in ran

    wrote = ok(in_project("plugin", "new", "shouter", "--hook", "report", "--pipeline", "hello",
                          project=new_project)).stdout
    assert "plugins/shouter/__init__.py" in wrote and "tests/test_shouter.py" in wrote
    refused(in_project("plugin", "new", "shouter", "--hook", "report", project=new_project),
            "already exists")
    refused(in_project("plugin", "new", "bad-name", "--hook", "report", project=new_project),
            "must be a Python identifier")
    (tmp_path / "greetings.json").write_text(json.dumps({"greetings": ["Hi, Ada!"]}))
    tested = ok(in_project("plugin", "test", "shouter", "--input",
                           f"hello_source={tmp_path / 'greetings.json'}", "--config",
                           '{"factor": 3}', project=new_project)).stdout
    for expected in ("plugin shouter 0.1.0 · pipeline hello", "completed",
                     "output: dict of 2 keys (inputs, factor)", "factor: 3",
                     "shouter ran with inputs from ['hello_source']",
                     "✓ config matches CONFIG_SCHEMA", "✓ output matches OUTPUT_SCHEMA"):
        assert expected in tested, tested
    refused(in_project("plugin", "test", "shouter", "--config", '{"factor": "x"}',
                       project=new_project), "'x' is not of type 'number'")
    refused(in_project("plugin", "test", "shouter", "--input", "missing.json",
                       project=new_project), "--input missing.json: no such file")

    logs_before = sorted((new_project / "logs").iterdir())
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=new_project, env=CLEAN_ENV, capture_output=True, text=True,
                           timeout=600)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout, tests.stdout
    assert sorted((new_project / "logs").iterdir()) == logs_before, \
        "the project's tests run in a copy, never in the project"


def test_plugin_test_reports_an_output_that_breaks_its_schema(new_project):
    init_project(new_project)
    new_plugin(new_project, "plugins", "liar", "collect", "hello")
    code = new_project / "plugins" / "liar" / "__init__.py"
    code.write_text(code.read_text().replace('"factor": config["factor"]}', '"factor": "no"}'))
    result = in_project("plugin", "test", "liar", project=new_project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ OutputInvalid: output does not match OUTPUT_SCHEMA: field 'factor': 'no' is " \
           "not of type 'number'" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    new_plugin(new_project, "plugins", "broken", "collect", "hello")
    code = new_project / "plugins" / "broken" / "__init__.py"
    code.write_text(code.read_text() + "\nRATIO = 1 / 0\n")
    refused(in_project("plugin", "test", "broken", project=new_project),
            "plugin 'broken' did not load", "ZeroDivisionError")


@pytest.mark.fast
def test_init_refuses_a_project_or_a_folder_with_files(tmp_path):
    init_project(tmp_path / "one")
    with pytest.raises(AlreadyExists, match="already a dataflow project"):
        init_project(tmp_path / "one")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "notes.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match="not an empty folder"):
        init_project(tmp_path / "two")
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["notes.txt"]


@pytest.mark.fast
@pytest.mark.parametrize("name, expected", [
    ("9lives", "must be a Python identifier"), ("my-plugin", "must be a Python identifier"),
    ("os", "is the name of a Python module"), ("", "must be a Python identifier")])
def test_plugin_new_refuses_bad_names(tmp_path, name, expected):
    init_project(tmp_path / "p")
    with pytest.raises(InvalidInput, match=expected):
        new_plugin(tmp_path / "p", "plugins", name, "collect")
    assert sorted(p.name for p in (tmp_path / "p" / "plugins").iterdir()) == [
        "hello_report", "hello_source"]


@pytest.mark.fast
def test_plugin_new_writes_a_valid_plugin(tmp_path):
    init_project(tmp_path / "p")
    written = new_plugin(tmp_path / "p", "plugins", "fresh", "collect", "hello")
    source = written[0].read_text()
    assert 'PLUGIN_NAME = "fresh"' in source and "PIPELINES = ['hello']" in source
    assert "OUTPUT_SCHEMA = {" in source and "CONFIG_SCHEMA = {" in source
    compile(source, str(written[0]), "exec")
    compile(written[1].read_text(), str(written[1]), "exec")
    with pytest.raises(AlreadyExists):
        new_plugin(tmp_path / "p", "plugins", "fresh", "report")


@pytest.mark.fast
def test_plugin_test_reads_inputs_by_file_type(tmp_path):
    frame = pd.DataFrame({"close": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "prices.parquet")
    frame.to_csv(tmp_path / "bars.csv", index=False)
    (tmp_path / "all.json").write_text(json.dumps({"a": [1], "b": {"x": 2}}))
    (tmp_path / "one.pkl").write_bytes(pickle.dumps({"k": 1}))
    inputs = read_inputs((str(tmp_path / "prices.parquet"), f"loader={tmp_path / 'bars.csv'}",
                          str(tmp_path / "all.json"), f"p={tmp_path / 'one.pkl'}"))
    assert sorted(inputs) == ["a", "b", "loader", "p", "prices"]
    assert inputs["prices"].equals(frame) and inputs["loader"]["close"].tolist() == [1.0, 2.0]
    assert inputs["a"] == [1] and inputs["p"] == {"k": 1}
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "bad.json").write_text("{")
    for spec, expected in ((tmp_path / "list.json", "must hold an object"),
                           ("notes.txt", "unsupported file type .txt"),
                           (tmp_path / "bad.json", "cannot be read as json")):
        with pytest.raises(InvalidInput, match=expected):
            read_inputs((str(spec),))
