"""Write a new project (`dataflow init DIR`) or a new plugin and its test (`dataflow plugin
new NAME`) from the templates shipped in dataflow/templates/ (package data).

A template file is `<path>.tmpl`; `{{name}}`, `{{hook}}` and `{{pipelines}}` in it are
replaced. Nothing is overwritten: an existing project or plugin is refused first.
"""
from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from dataflow.config.pipelines import NAME_PATTERN, PIPELINES_FILE
from dataflow.errors import AlreadyExists, InvalidInput, PermissionDenied, Problem

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PLUGIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# project template files whose names a package could not carry as such
RENAMED = {"gitignore": ".gitignore"}


def _templates(kind: str) -> Traversable:
    return resources.files("dataflow") / "templates" / kind


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative path, file) of every template under `folder`."""
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            found += _files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".tmpl"):
            found.append((prefix + entry.name[:-len(".tmpl")], entry))
    return found


def _render(template: Traversable, values: dict[str, str]) -> str:
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise PermissionDenied(f"cannot write {path}: {error.strerror or error}; choose a "
                               "folder you can write to") from None


def init_project(directory: Path) -> list[Path]:
    """Write the example project into `directory` (created if missing); refuses a folder
    that is already a project or has files in it. Returns the files written."""
    directory = directory.expanduser().resolve()
    if (directory / PIPELINES_FILE).exists():
        raise AlreadyExists(f"{directory} is already a dataflow project (it has "
                            f"{PIPELINES_FILE}); nothing was written. Choose a new folder")
    if directory.is_file() or (directory.is_dir() and any(directory.iterdir())):
        raise AlreadyExists(f"{directory} is not an empty folder; nothing was written. "
                            "Choose a new or empty folder for the project")
    written = []
    for relative, template in _files(_templates("project")):
        parts = relative.split("/")
        parts[-1] = RENAMED.get(parts[-1], parts[-1])
        path = directory.joinpath(*parts)
        _write(path, _render(template, {"name": directory.name}))
        written.append(path)
    return written


def _check_plugin_name(name: str, hook: str, pipeline: str | None) -> None:
    problems = []
    if not PLUGIN_NAME.match(name):
        problems.append(Problem("NAME", name, f"plugin name {name!r} must be a Python "
                                "identifier (letters, digits and '_', not starting with a "
                                "digit)", "e.g. my_plugin"))
    elif name in sys.stdlib_module_names or name in sys.builtin_module_names:
        problems.append(Problem("NAME", name, f"plugin name {name!r} is the name of a Python "
                                "module; its folder would replace that module",
                                f"choose another, e.g. {name}_plugin"))
    for option, value in (("--hook", hook), ("--pipeline", pipeline)):
        if value is not None and not re.match(NAME_PATTERN, value):
            problems.append(Problem(option, value, f"{option} {value!r} may only use letters, "
                                    "digits, '_', '.' and '-'", "e.g. fetch_data"))
    if problems:
        raise InvalidInput("; ".join(f"{p.message} (fix: {p.fix})" for p in problems), problems)


def new_plugin(project_dir: Path, plugins_dir: str, name: str, hook: str,
               pipeline: str | None = None) -> list[Path]:
    """Write plugins/NAME/__init__.py (CONFIG_SCHEMA, OUTPUT_SCHEMA, run) and
    tests/test_NAME.py; refuses a bad NAME and a plugin or test that exists."""
    _check_plugin_name(name, hook, pipeline)
    folder = project_dir / plugins_dir / name
    test = project_dir / "tests" / f"test_{name}.py"
    for path in (folder, test):
        if path.exists():
            raise AlreadyExists(f"{path} already exists; nothing was written. Choose another "
                                "plugin name, or edit the existing plugin")
    values = {"name": name, "hook": hook, "pipelines": repr([pipeline or "*"])}
    templates = dict(_files(_templates("plugin")))
    _write(folder / "__init__.py", _render(templates["__init__.py"], values))
    _write(test, _render(templates["test_plugin.py"], values))
    return [folder / "__init__.py", test]
