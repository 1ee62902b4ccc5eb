"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel of this venv,
against the test's database; the quickstart leaves a completed run of `default` there."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pymongo
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300                                   # seconds for any one cell
PIPELINE_RUN_BY = {"quickstart.ipynb": "default"}    # notebook -> pipeline it must complete
PROBE = "import json, sys\nprint(json.dumps({'prefix': sys.prefix, 'executable': sys.executable}))"


def probe_output(notebook) -> dict:
    """What the probe cell (appended last) printed about the kernel's interpreter."""
    outputs = notebook.cells[-1].outputs
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    return json.loads(text)


def execute(path: Path):
    """Run a copy of the notebook (plus a probe cell) with cwd = notebooks/; return it."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()            # raises CellExecutionError at the first failing cell
    return notebook


@pytest.mark.fast
def test_there_is_a_quickstart():
    assert NOTEBOOKS_DIR / "quickstart.ipynb" in NOTEBOOKS


@pytest.mark.timeout(CELL_TIMEOUT * 2)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, store_env, monkeypatch, tmp_path):
    # The venv's kernelspec wins over any in the user's Jupyter folder; its "python" is
    # replaced by the interpreter running the tests. The probe cell checks that.
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")
    # A copy of the repository's project, so the run's logs and checkpoints stay out of
    # the checkout (the quickstart reads DATAFLOW_PROJECT, as its first cell says).
    for folder in ("config", "plugins"):
        shutil.copytree(REPO / folder, tmp_path / "project" / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATAFLOW_PROJECT", str(tmp_path / "project"))
    notebook = execute(path)
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    kernel = probe_output(notebook)
    assert kernel["prefix"] == sys.prefix, f"the kernel ran {kernel['executable']}"
    pipeline = PIPELINE_RUN_BY.get(path.name)
    if pipeline is None:
        return
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.outputs if output.output_type == "stream")
    assert "equal to the live output: True" in printed     # stored indicators read back
    client = pymongo.MongoClient(store_env["DATAFLOW_MONGO_URI"], serverSelectionTimeoutMS=10_000)
    try:
        run = client[store_env["DATAFLOW_MONGO_DB"]]["runs"].find_one(
            {"pipeline": pipeline, "status": "completed"})
    finally:
        client.close()
    assert run is not None, f"no completed run of {pipeline!r} in {store_env['DATAFLOW_MONGO_DB']}"
