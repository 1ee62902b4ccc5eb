"""The specification's coding rules, enforced: modules ≤ 250 lines, functions and loop
bodies ≤ 50 lines, imports at the top of each file."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast
REPO = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("dataflow", "plugins", "dashboards", "benchmarks", "tests")
MAX_MODULE_LINES, MAX_BLOCK_LINES = 250, 50


def python_files() -> list[Path]:
    files = []
    for folder in SOURCE_DIRS:
        files += [p for p in sorted((REPO / folder).rglob("*.py")) if "__pycache__" not in p.parts]
    return files


def block_length(node) -> int:
    return node.end_lineno - node.lineno + 1


def long_blocks(tree) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if block_length(node) > MAX_BLOCK_LINES:
                found.append(f"function {node.name} (line {node.lineno}): {block_length(node)} lines")
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            body = node.body[-1].end_lineno - node.body[0].lineno + 1
            if body > MAX_BLOCK_LINES:
                found.append(f"loop at line {node.lineno}: body of {body} lines")
    return found


def late_imports(tree) -> list[str]:
    """Imports anywhere but the module's top (before any other statement but docstrings)."""
    found, top = [], True
    for node in tree.body:
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        is_doc = isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        if is_import and not top:
            found.append(f"import at line {node.lineno} after other code")
        if not (is_import or is_doc):
            top = False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found.append(f"import inside {node.name} at line {inner.lineno}")
    return found


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_follows_coding_rules(path):
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    problems = [f"{lines} lines (max {MAX_MODULE_LINES})"] if lines > MAX_MODULE_LINES else []
    tree = ast.parse(text)
    problems += long_blocks(tree) + late_imports(tree)
    assert not problems, f"{path.relative_to(REPO)}: " + "; ".join(problems)


def test_rules_cover_the_package():
    assert any(p.name == "engine.py" for p in python_files())
