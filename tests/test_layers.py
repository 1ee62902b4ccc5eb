"""The package's shape, kept true: layers import only what they may, statuses are named
once, and the public API is what `dataflow.__all__` says."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import dataflow
from dataflow.statuses import RunStatus, TaskStatus

pytestmark = pytest.mark.fast
PACKAGE = Path(dataflow.__file__).resolve().parent
# The one reference from the orchestrating side to code that runs on the workers.
BRIDGE = ("dataflow/run/graph.py", "dataflow.worker.task")
FORBIDDEN = {
    "run": ("dataflow.worker",),
    "worker": ("dataflow.run",),
    "store": ("dataflow.run", "dataflow.worker", "dataflow.cli"),
}
DB_CALLS = re.compile(r"\.(find|find_one|insert_one|insert_many|update_one|update_many|"
                      r"replace_one|delete_one|delete_many|aggregate|bulk_write|"
                      r"count_documents|estimated_document_count|list_collection_names|"
                      r"find_one_and_update|create_index|drop_index)\(")


def modules(layer: str = "") -> list[Path]:
    return [p for p in sorted((PACKAGE / layer).rglob("*.py")) if "__pycache__" not in p.parts]


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def shown(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(layer):
    found = []
    for path in modules(layer):
        for name in imported(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                if (shown(path), name) != BRIDGE:
                    found.append(f"{shown(path)} imports {name}")
    assert not found, "\n".join(found)


def test_the_cli_issues_no_database_calls():
    found = [f"{shown(p)}: {m.group(0)}" for p in modules("cli")
             for m in DB_CALLS.finditer(p.read_text())]
    assert not found, "queries belong in dataflow/store/: " + "; ".join(found)


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String values in code: not docstrings, and not field names (dict keys, subscripts)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node.body[0].value) for node in ast.walk(tree)
               if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                    ast.AsyncFunctionDef))
               and node.body and isinstance(node.body[0], ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            skipped.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            skipped.add(id(node.slice))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skipped]


def test_no_status_literal_outside_the_statuses_module():
    words = {str(s) for s in (*TaskStatus, *RunStatus)}
    found = [f"{shown(p)}:{line}: {value!r}" for p in modules() if p.name != "statuses.py"
             for line, value in _string_constants(p) if value in words]
    assert not found, "use dataflow.statuses members:\n" + "\n".join(found)


def test_public_api_is_what_all_says():
    assert sorted(dataflow.__all__) == dataflow.__all__
    for name in dataflow.__all__:
        assert getattr(dataflow, name) is not None, name
    with pytest.raises(AttributeError):
        dataflow.NoSuchThing      # noqa: B018
    assert set(dir(dataflow)) >= set(dataflow.__all__)


def test_every_error_lives_in_the_errors_module():
    errors = importlib.import_module("dataflow.errors")
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and path.name != "errors.py" and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception"))
                                                 or b.id in vars(errors)) for b in node.bases):
                found.append(f"{shown(path)}: class {node.name}")
    assert not found, "exceptions belong in dataflow/errors.py: " + "; ".join(found)
